# The link commands on a running pod (both interpreters): status, time set,
# chunked resumable profile upload with refusal reasons, profile read-back,
# log info/read/erase, phase set, maintenance, key rotation, and refusal of
# unauthenticated or replayed commands, each logged and changing nothing.
import _profiles
from _profiles import phase
from _rig import KEY, Client, chain_ok, log_records, pod, read_log, run

from firmware.pod import Pod
from protocol import catalogue as c
from protocol import log
from protocol import profile as pf
from protocol.auth import Hmac
from protocol.keys import LOG, derive


def _upload(cl, data, chunk=100):
    cl.ok(c.MSG_PROFILE_BEGIN, len(data), pf.ident(data))
    for at in range(0, len(data), chunk):
        got = cl.ok(c.MSG_PROFILE_CHUNK, at, data[at : at + chunk])
        assert got == (min(at + chunk, len(data)),)
    return cl.request(c.MSG_PROFILE_COMMIT, pf.ident(data))


def _events(p):
    return log_records(read_log(p))[1]


def test_status_reports_state_and_log_anchor():
    p = pod(temp=6000)
    run(p, 130)
    st = Client(p).status()
    assert st["uptime"] == 130 and st["boot_count"] == 1 and st["phase"] == 0
    assert st["setpoint"] == 5000 and st["band_low"] == 2000 and st["band_high"] == 8000
    assert abs(st["probe0"] - 6000) <= 40 and st["probe_ok"] == 0b1111
    assert st["log_seq"] == p.store.last_seq and st["log_mac"] == p.store.last_mac
    assert st["log_bytes"] == p.store.size


def test_time_set_logged_and_reported():
    p = pod()
    run(p, 100)
    cl = Client(p)
    assert cl.ok(c.MSG_TIME_SET, 1_800_000_000) == (100, 0)
    run(p, 50)
    uptime, before = cl.ok(c.MSG_TIME_SET, 1_800_000_040)
    assert (uptime, before) == (150, 1_800_000_050)  # the device ran 10 s fast
    assert p.utc_at_boot == 1_800_000_040 - 150
    ev = [e for e in _events(p) if e[1] == log.EV_TIME_SET]
    assert [(e[0], e[4]) for e in ev] == [(100, 1_800_000_000), (150, 1_800_000_040)]
    assert p.status_flags() & log.STATUS_TIME_SET


def test_profile_upload_resumes_and_takes_effect():
    p = pod()
    run(p, 10)
    cl = Client(p)
    new = _profiles.make([phase(b"incub", 0, 37000, 36000, 38000, 30000, 45000)])
    cl.ok(c.MSG_PROFILE_BEGIN, len(new), pf.ident(new))
    cl.ok(c.MSG_PROFILE_CHUNK, 0, new[:50])
    # the link drops; the host begins the same upload again and resends
    cl.ok(c.MSG_PROFILE_BEGIN, len(new), pf.ident(new))
    assert cl.ok(c.MSG_PROFILE_CHUNK, 0, b"") == (50,)  # where it stands
    assert cl.refused(c.MSG_PROFILE_CHUNK, 80, new[80:]) == c.ERR_BAD_STATE  # a gap
    assert cl.ok(c.MSG_PROFILE_CHUNK, 40, new[40:]) == (len(new),)
    assert cl.ok(c.MSG_PROFILE_COMMIT, pf.ident(new)) == (pf.ident(new),)
    assert p.control.setpoint == 37000 and p.profile.data == new
    # read back in pieces
    got = b""
    while len(got) < len(new):
        off, size, data = cl.ok(c.MSG_PROFILE_READ, len(got), 64)
        assert size == len(new)
        got += data
    assert got == new
    ev = [e for e in _events(p) if e[1] == log.EV_PROFILE_ACCEPTED]
    assert ev and ev[-1][4] == pf.ident(new)
    # a reboot runs the new profile
    q = Pod(type(p.hal)(p.root, 37000)).boot()
    assert q.profile.data == new


def test_invalid_profile_refused_with_reason_old_kept():
    p = pod()
    old = p.profile.data
    cl = Client(p)
    bad = _profiles.make([phase(), phase(setpoint=9000)])  # setpoint above band
    t, (code, _typ, detail) = _upload(cl, bad)
    assert t == c.MSG_ERROR and code == c.ERR_BAD_PROFILE
    assert (
        detail >> 12 == pf.REFUSE_BAND and pf.where(pf.REFUSE_BAND, detail & 0xFFF) == "phase[1]"
    )
    assert p.profile.data == old
    # a transfer damaged on the way: the CRC the host announced disagrees
    good = _profiles.make([phase(setpoint=4000)])
    cl.ok(c.MSG_PROFILE_BEGIN, len(good), pf.ident(good))
    cl.ok(c.MSG_PROFILE_CHUNK, 0, good[:-1] + bytes([good[-1] ^ 1]))
    t, (code, _typ, detail) = cl.request(c.MSG_PROFILE_COMMIT, pf.ident(good))
    assert code == c.ERR_BAD_PROFILE and detail >> 12 == pf.REFUSE_CRC
    assert p.profile.data == old
    run(p, 2)
    refused = [(e[2], e[3]) for e in _events(p) if e[1] == log.EV_PROFILE_REFUSED]
    assert refused == [(pf.REFUSE_BAND, 0x810), (pf.REFUSE_CRC, 0)]
    # stored copy untouched too; a power cut mid-store leaves profile.new,
    # which boot removes without touching the profile in force
    with open(p.root + "/profile.new", "wb") as f:
        f.write(good[:40])
    q = Pod(type(p.hal)(p.root, 5000)).boot()
    assert q.profile.data == old
    import os

    assert "profile.new" not in os.listdir(p.root)


def test_log_read_matches_flash_and_erase_keeps_newer_blocks():
    p = pod(_profiles.make([phase(interval=1)]))
    p.store.segment_bytes = 2048
    run(p, 600)
    cl = Client(p)
    data = read_log(p)  # seals the open block first
    size, first, last, mac = cl.ok(c.MSG_LOG_INFO)
    assert len(data) == size and chain_ok(data)
    seqs = log_records(data)[2]
    assert seqs[0] == first and last == p.store.last_seq and mac == p.store.last_mac
    # the host holds everything up to `last`; more arrives meanwhile
    run(p, 300)
    erased = cl.ok(c.MSG_LOG_ERASE, last)[0]
    assert 0 < erased <= size
    rest = read_log(p)
    rseqs = log_records(rest)[2]
    assert rseqs[0] <= last + 1 and rseqs[-1] == p.store.last_seq  # newer kept
    ev = [e for e in log_records(rest)[1] if e[1] == log.EV_LOG_ERASED]
    assert ev and ev[-1][4] == erased
    # erasing everything: the chain restarts, seq keeps rising
    cl.ok(c.MSG_LOG_ERASE, p.store.last_seq)
    top = p.store.last_seq
    run(p, 5)
    again = read_log(p)
    assert chain_ok(again) and log_records(again)[2][0] == top + 1
    # a reboot while the log is empty does not restart the numbering
    cl.ok(c.MSG_LOG_ERASE, p.store.last_seq)
    top = p.store.last_seq
    q = Pod(type(p.hal)(p.root, 5000)).boot()
    run(q, 5)
    assert log_records(read_log(q))[2][0] == top + 1


def test_out_of_range_reads():
    p = pod()
    cl = Client(p)
    assert cl.refused(c.MSG_LOG_READ, 10**6, 100) == c.ERR_OUT_OF_RANGE
    assert cl.refused(c.MSG_PROFILE_READ, 10**6, 100) == c.ERR_OUT_OF_RANGE
    assert cl.refused(c.MSG_PHASE_SET, 5) == c.ERR_OUT_OF_RANGE
    assert cl.refused(c.MSG_PROFILE_BEGIN, 10**6, 0) == c.ERR_OUT_OF_RANGE
    assert cl.refused(c.MSG_PROFILE_COMMIT, 0) == c.ERR_BAD_STATE


def test_phase_set_and_maintenance():
    p = pod(_profiles.make([phase(b"a", 0), phase(b"b", 0, setpoint=6000)]))
    cl = Client(p)
    assert cl.ok(c.MSG_PHASE_SET, 1) == (1,)
    assert p.phase == 1 and p.control.setpoint == 6000
    ev = [(e[2], e[3]) for e in _events(p) if e[1] == log.EV_PHASE]
    assert ev[-1] == (1, 1)  # by command
    cl.ok(c.MSG_MAINTENANCE, c.MAINT_REPL)
    assert p.repl_requested and not p.reboot_requested
    cl.ok(c.MSG_MAINTENANCE, c.MAINT_REBOOT)
    assert p.reboot_requested
    assert cl.refused(c.MSG_MAINTENANCE, 9) == c.ERR_OUT_OF_RANGE


def test_unauthenticated_replayed_or_wrong_key_refused_logged_nothing_changes():
    p = pod()
    run(p, 10)
    cl = Client(p)
    assert cl.refused(c.MSG_TIME_SET, 1_800_000_000, auth=False) == c.ERR_AUTH_REQUIRED
    cl.ok(c.MSG_TIME_SET, 1_800_000_000)
    used = cl.counter
    assert cl.refused(c.MSG_TIME_SET, 1_900_000_000, counter=used) == c.ERR_REPLAYED
    assert cl.refused(c.MSG_TIME_SET, 1_900_000_000, counter=used - 1) == c.ERR_REPLAYED
    stranger = Client(p, key=b"\x55" * 32)
    stranger.counter = used + 10
    assert stranger.refused(c.MSG_PHASE_SET, 0) == c.ERR_BAD_TAG
    assert stranger.refused(c.MSG_LOG_ERASE, 10**6) == c.ERR_BAD_TAG
    assert p.utc_at_boot == 1_800_000_000 - 10
    assert p.store.size > 0 and p.guard.counter == used
    run(p, 1)
    events = _events(p)  # read_log seals the open block: the window's count with it
    refused = [(e[2], e[3], e[4]) for e in events if e[1] == log.EV_COMMAND_REFUSED]
    assert refused == [
        (c.MSG_TIME_SET, c.ERR_AUTH_REQUIRED, 0),  # the first on a quiet line
        (c.MSG_TIME_SET, c.ERR_REPLAYED, used),  # signed: the key's holder's, each logged
        (c.MSG_TIME_SET, c.ERR_REPLAYED, used - 1),
    ], refused
    # the stranger's two, inside the window the first opened: counted (SPEC 4.6)
    counted = [(e[2], e[3], e[4]) for e in events if e[1] == log.EV_REFUSALS]
    assert counted == [(c.MSG_LOG_ERASE, c.ERR_BAD_TAG, 2)], counted


def test_key_rotation_switches_the_log_mac_key():
    p = pod()
    run(p, 100)
    cl = Client(p)
    new = bytes(range(100, 132))
    p.flush()
    sealed = p.store.size  # the rotation seals the open block under the old key first
    cl.rotate(new)
    # ... then writes the KEY_ROTATED block, under the new key, before the
    # new key replaces the old on flash (issue 15, F1)
    before = sealed
    at = sealed
    flash = p.store.read(0, p.store.size)
    while at < p.store.size:
        blk = log.parse_block(flash, at)
        if blk.kind == log.KIND_EVENTS and log.events(flash, blk)[0][1] == log.EV_KEY_ROTATED:
            before = at
            break
        at += blk.size
    assert before < p.store.size  # on flash already, not waiting for the next tick
    run(p, 5)
    cl.ok(c.MSG_TIME_SET, 1_800_000_000)  # the new key is the one now
    old = Client(p)
    old.counter = cl.counter
    assert old.refused(c.MSG_TIME_SET, 1) == c.ERR_BAD_TAG
    data = read_log(p)
    assert chain_ok(data[:before], Hmac(derive(KEY, LOG)))
    # the first block sealed after the rotation holds KEY_ROTATED, under the new key
    blk = log.parse_block(data, before)
    assert log.events(data, blk)[0][1] == log.EV_KEY_ROTATED
    prev = log.parse_block(data, 0)
    at = 0
    while at + prev.size < before:
        at += prev.size
        prev = log.parse_block(data, at)
    assert (
        log.block_mac(Hmac(derive(new, LOG)), prev.mac(data), memoryview(data)[before:],
                      blk.length)
        == blk.mac(data)
    )


def test_a_commit_repeated_after_its_answer_was_lost_is_answered_not_applied_again():
    # the host's resend of a COMMIT the device took: OK again, signed (the
    # Client checks the signature), the profile not applied a second time;
    # a COMMIT of another profile with no upload open is still BAD_STATE
    p = pod()
    run(p, 5)
    cl = Client(p)
    new = _profiles.make([phase(b"a", 0), phase(b"b", 0, setpoint=6000)])
    assert _upload(cl, new) == (c.MSG_PROFILE_COMMIT, (pf.ident(new),))
    run(p, 3)
    assert cl.request(c.MSG_PROFILE_COMMIT, pf.ident(new)) == (c.MSG_PROFILE_COMMIT,
                                                              (pf.ident(new),))
    assert cl.refused(c.MSG_PROFILE_COMMIT, pf.ident(new) ^ 1) == c.ERR_BAD_STATE
    run(p, 2)
    accepted = [e for e in _events(p) if e[1] == log.EV_PROFILE_ACCEPTED]
    assert len(accepted) == 1 and p.profile.data == new


def test_an_unused_challenge_expires_even_across_the_clocks_wrap():
    # the guard compares uptimes modulo 2**30 ms (about 12.4 days): a
    # command held exactly that long would look fresh; the pod spends the
    # challenge every second once it is 30 s old, so it never does
    p = pod()
    run(p, 5)
    cl = Client(p)
    ch = cl.fresh()
    run(p, 31)
    p.hal.now_ms += (1 << 30) - 31000  # back to the same uptime, modulo the wrap
    assert cl.refused(c.MSG_TIME_SET, 1_800_000_000, challenge=ch) == c.ERR_STALE
    assert p.utc_at_boot == 0
