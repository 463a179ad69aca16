#ifndef DATAIO_CPNGDECODE_H
#define DATAIO_CPNGDECODE_H
#include <stddef.h>

/// The result of decoding a PNG: 8-bit RGB (channels 3) or RGBA (channels 4), row-major, malloc'd.
typedef struct {
    int width;
    int height;
    int channels;
    unsigned char *pixels;
    char message[256];
} dataio_png_result;

/// Decodes PNG bytes with libpng's full API (errors longjmp inside C, never into Swift).
/// Returns 1 on success; 0 with `message` set on failure. Images over `max_pixels` pixels are refused.
int dataio_png_decode(const void *data, size_t size, size_t max_pixels, dataio_png_result *out);

/// Frees `out->pixels`.
void dataio_png_free(dataio_png_result *out);

#endif
