/* Ops of one int8 input, as tables over its 256 values: firmware_sim/emulator/kernels/activations.py
 * (TANH, LOGISTIC, RELU, RELU6) and quantize.py (int8 QUANTIZE, DEQUANTIZE). The emitter takes
 * the tables from the emulator's prepare step, which ran TFLM's arithmetic on every input byte,
 * so the device computes exactly what the emulator does. Consecutive table ops arrive composed.
 */
#include "nn_arith.h"
#include "nn_ops.h"

void nn_lookup(const int8_t *table, const int8_t *input, int8_t *output, uint32_t size) {
  table = nn_table_origin(table);  /* indexed by value + 128, see nn_arith.h */
  for (uint32_t i = 0; i < size; i++) output[i] = table[input[i]];
}

void nn_dequantize(const float *table, const int8_t *input, float *output, uint32_t size) {
  table += 128;  /* indexed by value + 128, as the int8 tables */
  for (uint32_t i = 0; i < size; i++) output[i] = table[input[i]];
}
