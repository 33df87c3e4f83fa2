/* sscard_demo: calls the national card-reader interface of libsscard.so.
 *
 * Build (from the repository root, after `cargo build --release -p sscard-ffi`):
 *   gcc -Wall -Wextra -Iinclude examples/c/sscard_demo.c -Ltarget/release -lsscard \
 *       -o sscard_demo
 * Run:
 *   LD_LIBRARY_PATH=target/release ./sscard_demo bas [iType]
 *
 * Functions (argv[1]):
 *   bas [iType]        iReadCardBas: the basic line (11 fields, each followed by '|')
 *   step1 [iType]      iReadCardBas_HSM_Step1 alone
 *   step2 PKEY         iReadCardBas_HSM_Step2 alone (without Step1: -14)
 *   hsm [iType]        Step1, print its line, read pKey (one line) on stdin, Step2:
 *                      the back office's encryption machine sits between the two
 *   verify [iType]     iVerifyPIN (the PIN comes from the desk's PIN device)
 *   change [iType]     iChangePIN
 *   firstuse [iType] [verify]
 *                      iActivateCard_FirstUse: first use driven by the HIS (activates
 *                      a new card; pOutInfo is its basic line). "verify": the holder
 *                      first verifies the PIN on the desk's PIN device (never argv);
 *                      a number instead is passed as iVerifyHolder as it is
 * iType defaults to 3 (automatic, contact first).
 *
 * Output: "ret=<code>" then pOutInfo on its own line, as the library wrote it (GBK).
 * Exit status: 0 when every call returned 0, else 1; 2 for a usage error.
 * Reader, PSAM and keys come from the desk configuration ($SSCARD_CONFIG).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sscard.h"

/* The interface's output buffer size; the library never writes more. */
#define OUT_LEN SSCARD_OUT_LEN

static int show(const char *fn, long ret, const char *out)
{
    printf("%s ret=%ld\n%s\n", fn, ret, out);
    fflush(stdout);
    return ret == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    char out[OUT_LEN];
    const char *fn = argc > 1 ? argv[1] : "bas";
    int itype = 3;
    long ret;

    memset(out, 0, sizeof out);
    if (argc > 2 && strcmp(fn, "step2") != 0)
        itype = atoi(argv[2]);

    if (strcmp(fn, "bas") == 0) {
        ret = iReadCardBas(itype, out);
        return show("iReadCardBas", ret, out);
    }
    if (strcmp(fn, "step1") == 0) {
        ret = iReadCardBas_HSM_Step1(itype, out);
        return show("iReadCardBas_HSM_Step1", ret, out);
    }
    if (strcmp(fn, "step2") == 0) {
        if (argc < 3) {
            fprintf(stderr, "usage: %s step2 PKEY\n", argv[0]);
            return 2;
        }
        ret = iReadCardBas_HSM_Step2(argv[2], out);
        return show("iReadCardBas_HSM_Step2", ret, out);
    }
    if (strcmp(fn, "hsm") == 0) {
        char key[OUT_LEN];
        ret = iReadCardBas_HSM_Step1(itype, out);
        if (show("iReadCardBas_HSM_Step1", ret, out) != 0)
            return 1;
        /* The back office's answer (pKey), one line on stdin. */
        if (fgets(key, sizeof key, stdin) == NULL) {
            fprintf(stderr, "no pKey on stdin\n");
            return 1;
        }
        key[strcspn(key, "\r\n")] = '\0';
        memset(out, 0, sizeof out);
        ret = iReadCardBas_HSM_Step2(key, out);
        memset(key, 0, sizeof key);
        return show("iReadCardBas_HSM_Step2", ret, out);
    }
    if (strcmp(fn, "verify") == 0) {
        ret = iVerifyPIN(itype, out);
        return show("iVerifyPIN", ret, out);
    }
    if (strcmp(fn, "change") == 0) {
        ret = iChangePIN(itype, out);
        return show("iChangePIN", ret, out);
    }
    if (strcmp(fn, "firstuse") == 0) {
        /* "verify" is 1; a number is passed as given (the library checks it). */
        int verify = 0;
        if (argc > 3)
            verify = strcmp(argv[3], "verify") == 0 ? 1 : atoi(argv[3]);
        ret = iActivateCard_FirstUse(itype, verify, out);
        return show("iActivateCard_FirstUse", ret, out);
    }
    fprintf(stderr, "usage: %s bas|step1|step2 PKEY|hsm|verify|change|firstuse [iType] [verify]\n",
            argv[0]);
    return 2;
}
