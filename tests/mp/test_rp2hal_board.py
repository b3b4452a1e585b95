# The unchanged rp2 HAL on the register-level board model (sim/rp2board),
# both interpreters: the BME280, the pack divider and the LIS3DH (its FIFO in
# stream mode and both interrupt generators) agree with the models; the
# probes within E11's residual (docs/reference-board.md).
import sys

from sim.rp2board import board


def _hal():
    board.install(with_time=True)
    b = board.new()
    sys.modules.pop("firmware.hal.rp2", None)
    __import__("firmware.hal.rp2")
    hal = sys.modules["firmware.hal.rp2"].Rp2Hal()
    board.uninstall()  # the HAL keeps its machine; time stays on MicroPython
    if sys.implementation.name == "micropython":
        board.install(with_time=True)
    return b, hal


def test_env_and_pack_agree_with_the_models():
    b, hal = _hal()
    out = [0, 0]
    for t, pa, rh in ((25.0, 100000.0, 45.0), (37.0, 95000.0, 80.0), (5.0, 70000.0, 10.0)):
        b.set_env(t, pa, rh)
        hal.read_env(out)  # takes the measurement started before the change
        b.advance_ms(1000)
        assert hal.read_env(out) == 0
        assert out == [int(rh * 10), int(pa / 10)], (t, out)
        hal.feed_watchdog()
    for v in (9.0, 10.56, 12.6):
        b.set_pack_v(v)
        assert abs(hal.battery_mv() - v * 1000) <= 40


def test_probes_and_shock_on_the_models():
    b, hal = _hal()
    out = [0] * 4
    for t10 in range(0, 501, 25):
        for p in range(4):
            b.set_probe_c(p, t10 / 10)
        assert hal.read_probes(out) == 0
        # the model is the five Picos' mean the HAL's table corrects for:
        # they part by the table's 128-code buckets (a code, 0.035 K here)
        # and, inside a wide code, by up to half its width (0.13 K at 37
        # degC: the model has no noise to dither it); the 5 K NTC table's
        # interpolation adds up to 0.06 K (docs/reference-board.md)
        assert abs(out[0] - t10 * 100) <= 180, (t10, out)
    b.set_probe_open(1)
    b.set_probe_short(2)
    assert hal.read_probes(out) == 0b0110


def _pulse(b, hal, g, before_read_ms):
    """A 20 ms shock on z that ends before_read_ms before the tick's read,
    1 g before and after (the watchdog fed, as a tick does)."""
    hal.feed_watchdog()
    b.set_accel(0, 0, g)
    b.advance_ms(20)
    b.set_accel(0, 0, 1.0)
    b.advance_ms(before_read_ms)


def test_shock_through_the_fifo_and_both_generators():
    import sys

    b, hal = _hal()
    b.set_accel(0, 0, 1.0)
    b.advance_ms(1000)
    hal.shock_mg()  # the set-up's first second
    _pulse(b, hal, 1.0, 980)
    assert abs(hal.shock_mg() - 1000) <= 12  # 32 sets of 1 g in the FIFO
    hal.feed_watchdog()
    b.advance_ms(960)
    # a 20 g, 20 ms pulse in the FIFO's last 80 ms: its 8 samples, 1667
    # digits of 12 mg on z, within one LSB of 20 g; IG1 latched too
    _pulse(b, hal, 20.0, 20)
    assert abs(hal.shock_mg() - 20000) <= 12
    # the latches were read with it: the next second is quiet again
    _pulse(b, hal, 1.0, 980)
    assert abs(hal.shock_mg() - 1000) <= 12
    # a 12 g pulse in the last 80 ms: the FIFO has it, neither threshold does
    hal.feed_watchdog()
    b.advance_ms(900)
    _pulse(b, hal, 12.0, 60)
    assert abs(hal.shock_mg() - 12000) <= 12
    # a second's first 20 ms are long out of the FIFO: what is known is which
    # thresholds a sample passed. 21 g trips IG2 (108 x 186 mg = 20.088 g)
    _pulse(b, hal, 21.0, 980)
    assert hal.shock_mg() == 20088
    # 20.0 g does not pass IG2's 20.088 g, only IG1's 15.066 g
    _pulse(b, hal, 20.0, 980)
    assert hal.shock_mg() == 15066
    # 12 g passes neither: the FIFO's 1 g is all the tick learns
    _pulse(b, hal, 12.0, 980)
    assert abs(hal.shock_mg() - 1000) <= 12
    if sys.implementation.name != "micropython":
        return
    import micropython

    _pulse(b, hal, 21.0, 980)
    micropython.heap_lock()  # the tick's read, on the model, allocates nothing
    try:
        mg = hal.shock_mg()
    finally:
        micropython.heap_unlock()
    assert mg == 20088


def test_a_log_made_on_the_model_says_it_is_simulated():
    # the model's machine is a Python module (it has a __file__); rp2's is
    # built in: a modelled board's BOOT events and seal carry the mark, so
    # its log can never pass for a flight's
    b, hal = _hal()
    assert hal.simulated() is True
    mod = sys.modules["firmware.hal.rp2"]
    real = mod.machine

    class BuiltIn:  # what the board's machine looks like to the HAL: no __file__
        pass

    mod.machine = BuiltIn
    try:
        assert hal.simulated() is False
    finally:
        mod.machine = real
