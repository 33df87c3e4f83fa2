//! The vpcd connector against a fake vpcd on a local socket: the protocol, persistence
//! before the answer, removal, mute and reinsertion, giving up when vpcd is gone.

use super::*;

fn write_frame(s: &mut TcpStream, body: &[u8]) {
    let mut b = (body.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(body);
    s.write_all(&b).unwrap();
}

fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).ok()?;
    let mut b = vec![0u8; u16::from_be_bytes(h) as usize];
    s.read_exact(&mut b).ok()?;
    Some(b)
}

fn apdu(s: &mut TcpStream, hexs: &str) -> Option<String> {
    write_frame(s, &hex::decode(hexs).unwrap());
    read_frame(s).map(hex::encode_upper)
}

/// Starts the card on a fresh image copy against a fake vpcd listener.
fn start(
    name: &str,
    plan: FaultPlan,
    once: bool,
) -> (
    TcpListener,
    tempfile::TempDir,
    PathBuf,
    std::thread::JoinHandle<Result<(), VcardError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(cards_dir().join(name), &path).unwrap();
    let cfg = VpcdConfig {
        host: "127.0.0.1".into(),
        port,
        connect_timeout: Duration::from_secs(2),
        reinsert_delay: Duration::from_millis(50),
        once,
        save_to: Some(path.clone()),
        count_file: Some(dir.path().join("count")),
        ..VpcdConfig::default()
    };
    let p = path.clone();
    let handle = std::thread::spawn(move || {
        let mut card = Card::load(&p)?;
        serve(&mut card, &cfg, plan)
    });
    (listener, dir, path, handle)
}

#[test]
fn vpcd_protocol_and_persistence() {
    let (listener, dir, path, handle) = start("ssc-2.00.json", FaultPlan::default(), true);
    let (mut s, _) = listener.accept().unwrap();
    write_frame(&mut s, &[0x04]);
    assert_eq!(
        hex::encode_upper(read_frame(&mut s).unwrap()),
        "3B6D00000081544C968684639948FB4966"
    );
    write_frame(&mut s, &[0x01]);
    write_frame(&mut s, &[0x04]);
    assert_eq!(read_frame(&mut s).unwrap().len(), 17);
    assert_eq!(
        apdu(&mut s, &format!("00A404000F{SSSE_AID}")).unwrap(),
        "611E"
    );
    write_frame(&mut s, &[0x04]);
    assert_eq!(
        read_frame(&mut s).unwrap().len(),
        17,
        "get ATR between APDUs"
    );
    assert_eq!(
        apdu(&mut s, "00C000001E").unwrap().len(),
        64,
        "FCI still pending"
    );
    assert_eq!(apdu(&mut s, "00A4000002DF04").unwrap(), "9000");
    let ch = hex::decode(apdu(&mut s, "0084000008").unwrap()).unwrap();
    let key = ssc_key("ssc-2.00.json", 0x0C);
    let crypt = cryptogram(Algorithm::Tdes, &key, &ch[..8].try_into().unwrap());
    assert_eq!(
        apdu(&mut s, &format!("0082000C08{}", hex::encode(crypt))).unwrap(),
        "9000"
    );
    assert_eq!(apdu(&mut s, "00DC222803220101").unwrap(), "9000");
    // Saved before the answer was sent.
    let mut saved = Card::load(&path).unwrap();
    saved.power_on();
    assert_eq!(sw(&mut saved, "00A4040006D15600000503"), "9000");
    assert_eq!(x(&mut saved, "00B2222800"), "2201019000");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("count")).unwrap(),
        "6\n"
    );
    // Reset clears the security state.
    write_frame(&mut s, &[0x02]);
    assert_eq!(apdu(&mut s, "00A4040006D15600000503").unwrap(), "9000");
    assert_eq!(apdu(&mut s, "00DC222803220100").unwrap(), "6982");
    drop(s);
    handle.join().unwrap().unwrap();
}

#[test]
fn vpcd_remove_before_and_after() {
    let plan = FaultPlan {
        remove_after: Some(2),
        ..FaultPlan::default()
    };
    let (listener, _dir, _path, handle) = start("ssc-2.00.json", plan, true);
    let (mut s, _) = listener.accept().unwrap();
    write_frame(&mut s, &[0x01]);
    assert_eq!(apdu(&mut s, "00A40000023F00").unwrap(), "9000");
    assert_eq!(apdu(&mut s, "00A40000023F00").unwrap(), "9000");
    assert_eq!(read_frame(&mut s), None, "removed after answering #2");
    handle.join().unwrap().unwrap();

    let plan = FaultPlan {
        remove_before: Some(2),
        ..FaultPlan::default()
    };
    let (listener, _dir, path, handle) = start("ssc-2.00.json", plan, true);
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(apdu(&mut s, "0020000003000000").unwrap(), "63C5");
    assert_eq!(
        apdu(&mut s, "0020000003000000"),
        None,
        "removed instead of answering #2"
    );
    handle.join().unwrap().unwrap();
    let img = CardImage::load(&path).unwrap();
    assert_eq!(img.mf.pins[0].tries, 5, "only the answered VERIFY counted");
}

#[test]
fn vpcd_mute_and_reinsert() {
    let plan = FaultPlan {
        mute_after: Some(1),
        ..FaultPlan::default()
    };
    let (listener, _dir, _path, handle) = start("psam.json", plan, true);
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(apdu(&mut s, "00B0960006").unwrap(), "6399000000019000");
    write_frame(&mut s, &hex::decode("00B0960006").unwrap());
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(s.read(&mut b).is_err(), "muted: no answer");
    s.set_read_timeout(None).unwrap();
    write_frame(&mut s, &[0x04]);
    assert_eq!(
        read_frame(&mut s).unwrap().len(),
        17,
        "still answers get ATR"
    );
    drop(s);
    handle.join().unwrap().unwrap();

    // Without --once the card comes back after a removal, the fault consumed.
    let plan = FaultPlan {
        remove_before: Some(1),
        ..FaultPlan::default()
    };
    let (listener, _dir, _path, handle) = start("psam.json", plan, false);
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(apdu(&mut s, "00B0960006"), None);
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(apdu(&mut s, "00B0960006").unwrap(), "6399000000019000");
    drop(s);
    drop(listener);
    // vpcd gone for good: the card gives up after its connect timeout.
    assert!(matches!(
        handle.join().unwrap(),
        Err(VcardError::Connect { .. })
    ));
}
