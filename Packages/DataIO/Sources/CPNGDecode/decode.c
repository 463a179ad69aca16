// PNG decoding through libpng's full API. libpng reports errors by longjmp, which must stay inside C: this file
// owns the setjmp. The simplified png_image API is not used for reading because libpng 1.6.39 (Debian 12)
// returns wrong rows for interlaced 16-bit images converted to 8 bits, and because it applies gamma
// conversion to 16-bit images; here samples are only scaled (16 -> 8 bits: round(v / 257)), as Pillow does.
#include "CPNGDecode.h"
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t pos;
    char *message;
} reader_state;

static void on_error(png_structp png, png_const_charp msg) {
    reader_state *st = (reader_state *)png_get_error_ptr(png);
    if (st && st->message) {
        strncpy(st->message, msg ? msg : "unknown libpng error", 255);
        st->message[255] = 0;
    }
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void on_read(png_structp png, png_bytep out, png_size_t n) {
    reader_state *st = (reader_state *)png_get_io_ptr(png);
    if (n > st->size - st->pos) png_error(png, "unexpected end of data (truncated file)");
    memcpy(out, st->data + st->pos, n);
    st->pos += n;
}

int dataio_png_decode(const void *data, size_t size, size_t max_pixels, dataio_png_result *out) {
    memset(out, 0, sizeof(*out));
    reader_state st = {(const unsigned char *)data, size, 0, out->message};
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        strcpy(out->message, "not a PNG file (missing the PNG signature)");
        return 0;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, on_error, on_warning);
    if (!png) {
        strcpy(out->message, "cannot create the libpng reader");
        return 0;
    }
    png_infop info = png_create_info_struct(png);
    // volatile: modified between setjmp and a possible longjmp.
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        if (!out->message[0]) strcpy(out->message, "corrupt PNG");
        return 0;
    }
    png_set_read_fn(png, &st, on_read);
    png_set_user_limits(png, 1u << 24, 1u << 24);
    png_set_chunk_malloc_max(png, 64u << 20);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    if ((size_t)width * (size_t)height > max_pixels) png_error(png, "image exceeds the pixel limit");
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    int has_alpha = (color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);

    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_scale_16(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (channels != (has_alpha ? 4 : 3) || png_get_bit_depth(png, info) != 8 || rowbytes != (size_t)width * channels)
        png_error(png, "unsupported PNG layout after conversion");
    pixels = (unsigned char *)malloc(rowbytes * height);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->width = (int)width;
    out->height = (int)height;
    out->channels = channels;
    out->pixels = pixels;
    return 1;
}

void dataio_png_free(dataio_png_result *out) {
    free(out->pixels);
    out->pixels = NULL;
}
