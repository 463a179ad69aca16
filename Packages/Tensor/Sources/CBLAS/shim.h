#ifndef TENSOR_CBLAS_SHIM_H
#define TENSOR_CBLAS_SHIM_H
#include <cblas.h>
#endif
