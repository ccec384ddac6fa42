/*
 * bcryptprimitives.dll stand-in for Wine 8.
 *
 * Go 1.22 and newer read their random numbers through ProcessPrng, which
 * Wine 8's bcryptprimitives.dll does not have (Wine 9 added it): a Go
 * program aborts at start-up. This DLL exports ProcessPrng and fills the
 * buffer from advapi32's RtlGenRandom (exported as SystemFunction036),
 * which Wine has. It is used only to run the Windows tests under Wine;
 * nothing of it ships with the library. Built by scripts/test-windows.sh.
 */
#include <windows.h>

typedef BOOLEAN (WINAPI *genrandom_fn)(PVOID, ULONG);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	static genrandom_fn genrandom;
	if (!genrandom) {
		HMODULE advapi = LoadLibraryA("advapi32.dll");
		if (!advapi)
			return FALSE;
		genrandom = (genrandom_fn)GetProcAddress(advapi, "SystemFunction036");
		if (!genrandom)
			return FALSE;
	}
	/* RtlGenRandom takes a ULONG length: feed large requests in pieces. */
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!genrandom(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
