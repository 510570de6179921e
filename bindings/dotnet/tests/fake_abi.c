/* A library that exports the agentgate ABI entry points a loader checks first, but claims
 * ABI version 2.0: the .NET loader must refuse it with a clear message. */
#include <stdint.h>

uint32_t ag_abi_version(void) { return 2u << 16; }

const char *ag_version(void) { return "2.0.0-test"; }
