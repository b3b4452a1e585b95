# The BME280 datasheet's 32-bit integer compensation (BME280 datasheet 4.2.3
# and 8.2, BMP280 3.11.3), written out literally as the C reads, and the
# 64-bit pressure form: the reference firmware/hal/rp2.py's split forms are
# held to (tests/mp/test_rp2_drivers.py). Python ints, unbounded on both
# interpreters: for the chip's readings the C's int32 does not overflow.
def t_fine(c, adc_T):
    T1, T2, T3 = c[0], c[1], c[2]
    var1 = (((adc_T >> 3) - (T1 << 1)) * T2) >> 11
    var2 = (((((adc_T >> 4) - T1) * ((adc_T >> 4) - T1)) >> 12) * T3) >> 14
    return var1 + var2

def pressure(c, t_fine, adc_P):
    P1, P2, P3, P4, P5, P6, P7, P8, P9 = c[3:12]
    var1 = (t_fine >> 1) - 64000
    var2 = (((var1 >> 2) * (var1 >> 2)) >> 11) * P6
    var2 = var2 + ((var1 * P5) << 1)
    var2 = (var2 >> 2) + (P4 << 16)
    var1 = (((P3 * (((var1 >> 2) * (var1 >> 2)) >> 13)) >> 3) + ((P2 * var1) >> 1)) >> 18
    var1 = ((32768 + var1) * P1) >> 15
    if var1 == 0:
        return 0
    p = ((1048576 - adc_P) - (var2 >> 12)) * 3125
    if p < 0x80000000:
        p = (p << 1) // var1
    else:
        p = (p // var1) * 2
    var1 = (P9 * (((p >> 3) * (p >> 3)) >> 13)) >> 12
    var2 = ((p >> 2) * P8) >> 13
    return p + ((var1 + var2 + P7) >> 4)

def pressure64(c, t_fine, adc_P):
    P1, P2, P3, P4, P5, P6, P7, P8, P9 = c[3:12]
    var1 = t_fine - 128000
    var2 = var1 * var1 * P6
    var2 = var2 + ((var1 * P5) << 17)
    var2 = var2 + (P4 << 35)
    var1 = ((var1 * var1 * P3) >> 8) + ((var1 * P2) << 12)
    var1 = (((1 << 47) + var1) * P1) >> 33
    if var1 == 0:
        return 0
    p = 1048576 - adc_P
    p = (((p << 31) - var2) * 3125) // var1
    var1 = (P9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (P8 * p) >> 19
    p = ((p + var1 + var2) >> 8) + (P7 << 4)
    return p  # Q24.8

def humidity(c, t_fine, adc_H):
    H1, H2, H3, H4, H5, H6 = c[12:18]
    v = t_fine - 76800
    v = ((((((adc_H << 14) - (H4 << 20) - (H5 * v)) + 16384) >> 15)
          * (((((((v * H6) >> 10) * (((v * H3) >> 11) + 32768)) >> 10) + 2097152) * H2
              + 8192) >> 14)))
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * H1) >> 4)
    v = 0 if v < 0 else v
    v = 419430400 if v > 419430400 else v
    return v >> 12
