//go:build linux || windows

package eventcore

// helperEnv, set in its environment, makes this test binary a helper
// process that does what the value says (see the init functions of
// processes_windows_test.go and processes_zombie_linux_test.go) instead of
// running tests. The BSDs' tests start no such helper.
const helperEnv = "EVENTCORE_TEST_HELPER"
