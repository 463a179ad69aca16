// libpng's simplified API (png_image): no setjmp needed from Swift.
#include <png.h>
