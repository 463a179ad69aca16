// PNG decoding through libpng's full API. libpng reports errors by longjmp, which must stay inside C: each
// function here that calls libpng owns a setjmp. The simplified png_image API is not used for reading because
// libpng 1.6.39 (Debian 12) returns wrong rows for interlaced 16-bit images converted to 8 bits, and because it
// applies gamma conversion to 16-bit images; here 16-bit samples keep their high byte (v >> 8), as Pillow does.
//
// Hostile input: the Swift caller has already checked every chunk length against the bytes left; here every
// ancillary chunk but tRNS is skipped without being buffered (libpng 1.6.39 allocates and zeroes a buffer of the
// declared length for tEXt and others before reading them), and libpng's allocations go through a counting
// allocator with a budget, so no chunk, row or zlib state can take more than the caller allows.
#include "CPNGDecode.h"
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dataio_png_reader {
    const unsigned char *data;
    size_t size;
    size_t pos;
    size_t budget;   // the most bytes libpng may hold at once
    size_t current;  // bytes libpng holds now
    size_t peak;
    int over_budget;
    png_structp png;
    png_infop info;
    int width;
    int height;
    int channels;
    int passes;
    char message[256];
};

// Every block carries its size in front, so that frees can be counted.
typedef union {
    size_t size;
    max_align_t align;
} block_header;

static png_voidp counted_malloc(png_structp png, png_alloc_size_t n) {
    struct dataio_png_reader *r = (struct dataio_png_reader *)png_get_mem_ptr(png);
    if (n > r->budget || r->current > r->budget - n) {
        r->over_budget = 1;
        return NULL;
    }
    block_header *h = (block_header *)malloc(sizeof(block_header) + n);
    if (!h) return NULL;
    h->size = n;
    r->current += n;
    if (r->current > r->peak) r->peak = r->current;
    return h + 1;
}

static void counted_free(png_structp png, png_voidp p) {
    if (!p) return;
    struct dataio_png_reader *r = (struct dataio_png_reader *)png_get_mem_ptr(png);
    block_header *h = (block_header *)p - 1;
    r->current -= h->size;
    free(h);
}

static void on_error(png_structp png, png_const_charp msg) {
    struct dataio_png_reader *r = (struct dataio_png_reader *)png_get_error_ptr(png);
    if (r->over_budget)
        snprintf(r->message, sizeof r->message, "libpng needed more than its memory budget of %zu bytes (%s)",
                 r->budget, msg ? msg : "out of memory");
    else
        snprintf(r->message, sizeof r->message, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void on_read(png_structp png, png_bytep out, png_size_t n) {
    struct dataio_png_reader *r = (struct dataio_png_reader *)png_get_io_ptr(png);
    if (n > r->size - r->pos) png_error(png, "unexpected end of data (truncated file)");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

static void report(const struct dataio_png_reader *r, dataio_png_status *status) {
    status->width = r->width;
    status->height = r->height;
    status->channels = r->channels;
    status->libpng_peak_bytes = r->peak;
    memcpy(status->message, r->message, sizeof status->message);
}

static void destroy(struct dataio_png_reader *r) {
    if (r->png) png_destroy_read_struct(&r->png, r->info ? &r->info : NULL, NULL);
    free(r);
}

dataio_png_reader *dataio_png_open(const void *data, size_t size, size_t max_pixels, size_t libpng_budget,
                                   dataio_png_status *status) {
    memset(status, 0, sizeof(*status));
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        strcpy(status->message, "not a PNG file (missing the PNG signature)");
        return NULL;
    }
    struct dataio_png_reader *volatile r = (struct dataio_png_reader *)calloc(1, sizeof(struct dataio_png_reader));
    if (!r) {
        strcpy(status->message, "out of memory");
        return NULL;
    }
    r->data = (const unsigned char *)data;
    r->size = size;
    r->budget = libpng_budget;
    r->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, r, on_error, on_warning, r, counted_malloc,
                                      counted_free);
    if (r->png) r->info = png_create_info_struct(r->png);
    if (!r->png || !r->info) {
        strcpy(r->message, r->over_budget ? "libpng memory budget too small" : "cannot create the libpng reader");
        report(r, status);
        destroy(r);
        return NULL;
    }
    if (setjmp(png_jmpbuf(r->png))) {
        if (!r->message[0]) strcpy(r->message, "corrupt PNG");
        report(r, status);
        destroy(r);
        return NULL;
    }
    png_structp png = r->png;
    png_infop info = r->info;
    png_set_read_fn(png, r, on_read);
    png_set_user_limits(png, 1u << 20, 1u << 24);  // widths past 2^20 would need row buffers over the budget
    png_set_chunk_malloc_max(png, libpng_budget);
    // Skip every ancillary chunk except tRNS (no colour management, text or metadata is used).
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    if ((size_t)width * (size_t)height > max_pixels) png_error(png, "image exceeds the pixel limit");
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    int has_alpha = (color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);

    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);  // exact 16-bit match, then strip
    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    r->passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (channels != (has_alpha ? 4 : 3) || png_get_bit_depth(png, info) != 8 || rowbytes != (size_t)width * channels)
        png_error(png, "unsupported PNG layout after conversion");
    r->width = (int)width;
    r->height = (int)height;
    r->channels = channels;
    report(r, status);
    return r;
}

int dataio_png_read(dataio_png_reader *reader, unsigned char *pixels, dataio_png_status *status) {
    struct dataio_png_reader *volatile r = reader;
    if (setjmp(png_jmpbuf(r->png))) {
        if (!r->message[0]) strcpy(r->message, "corrupt PNG");
        report(r, status);
        destroy(r);
        return 0;
    }
    // Row by row (what png_read_image does), so no array of `height` row pointers is allocated.
    size_t rowbytes = (size_t)r->width * (size_t)r->channels;
    for (int pass = 0; pass < r->passes; pass++)
        for (int y = 0; y < r->height; y++) png_read_row(r->png, pixels + (size_t)y * rowbytes, NULL);
    png_read_end(r->png, NULL);
    report(r, status);
    destroy(r);
    return 1;
}

void dataio_png_close(dataio_png_reader *reader) {
    if (reader) destroy(reader);
}
