/* daemon_fixture.h: a real shmportd for tests written in C, on top of the
 * C++ tests/control/daemon_process.h (the daemon comes from the test's
 * runfiles: data = ["//server:shmportd"]). One daemon per process. */
#ifndef SHMPORT_TESTS_C_API_DAEMON_FIXTURE_H_
#define SHMPORT_TESTS_C_API_DAEMON_FIXTURE_H_

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the daemon; its control address ("unix:/tmp/...") stays valid
 * until shmport_test_daemon_stop. NULL (with the reason on stderr) when it
 * did not start. */
const char* shmport_test_daemon_start(void);

/* Kills the daemon (SIGKILL) and removes its directory. Idempotent. */
void shmport_test_daemon_stop(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SHMPORT_TESTS_C_API_DAEMON_FIXTURE_H_ */
