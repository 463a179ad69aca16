#ifndef DATAIO_CPNGDECODE_H
#define DATAIO_CPNGDECODE_H
#include <stddef.h>

/// A PNG being decoded: libpng's reader between reading the header and reading the rows.
typedef struct dataio_png_reader dataio_png_reader;

/// What a decode step found: the output layout (8-bit RGB, channels 3, or RGBA, channels 4), the most bytes
/// libpng held at once (its buffers and zlib's), and on failure a message.
typedef struct {
    int width;
    int height;
    int channels;
    size_t libpng_peak_bytes;
    char message[256];
} dataio_png_status;

/// Reads the header and sets up the conversion to 8-bit RGB/RGBA with libpng's full API (errors longjmp inside
/// C, never into Swift). Every ancillary chunk except tRNS is skipped unread; libpng's own allocations are
/// limited to `libpng_budget` bytes. Returns NULL with `status->message` set on failure.
dataio_png_reader *dataio_png_open(const void *data, size_t size, size_t max_pixels, size_t libpng_budget,
                                   dataio_png_status *status);

/// Decodes the rows into `pixels` (width * height * channels bytes, as `dataio_png_open` reported) and frees
/// the reader. Returns 1 on success; 0 with `status->message` set on failure.
int dataio_png_read(dataio_png_reader *reader, unsigned char *pixels, dataio_png_status *status);

/// Frees a reader without decoding its rows.
void dataio_png_close(dataio_png_reader *reader);

#endif
