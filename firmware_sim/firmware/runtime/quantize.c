/* QUANTIZE float32 -> int8: firmware_sim/emulator/kernels/quantize.py affine_quantize, i.e. TFLM's
 * AffineQuantize: round(x / scale) in float32, halves away from zero, plus the zero point.
 * x86 turns a float beyond int32 into INT32_MIN (the emulator follows it, and so does this
 * code, where an ARM conversion would saturate instead); the zero point then adds with int32
 * wraparound before the int8 clamp.
 */
#include <math.h>

#include "nn_arith.h"
#include "nn_ops.h"

void nn_quantize(float scale, int32_t zero_point, const float *input, int8_t *output,
                 uint32_t size) {
  for (uint32_t i = 0; i < size; i++) {
    double quotient = (double)(input[i] / scale);
    double rounded = quotient < 0 ? -floor(-quotient + 0.5) : floor(quotient + 0.5);
    int32_t value = (rounded < 2147483648.0 && rounded > -2147483648.0) ? (int32_t)rounded
                                                                         : INT32_MIN;
    value = (int32_t)((uint32_t)value + (uint32_t)zero_point);
    output[i] = (int8_t)nn_clamp(value, -128, 127);
  }
}
