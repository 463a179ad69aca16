#ifndef DATAIO_CFUZZERDRIVER_H
#define DATAIO_CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>
/// libFuzzer's driver (compiler-rt), linked in by -sanitize=fuzzer. Executables call it from their own main.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
