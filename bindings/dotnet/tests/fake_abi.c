/* A library that exports the portcullis ABI entry points a loader checks first, but claims
 * ABI version 3.0: the .NET loader must refuse it with a clear message. */
#include <stdint.h>

uint32_t portcullis_abi_version(void) { return 3u << 16; }

const char *portcullis_version(void) { return "2.0.0-test"; }
