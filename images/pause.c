/* pause: the sandbox's init process. Same contract as Kubernetes' pause: sleeps until
 * SIGINT/SIGTERM (exit 0) and reaps children on SIGCHLD so that zombies do not pile up. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void sigdown(int s) { psignal(s, "Shutting down, got signal"); exit(0); }
static void sigreap(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) {} }

int main(void) {
  struct sigaction down = {.sa_handler = sigdown};
  sigaction(SIGINT, &down, NULL);
  sigaction(SIGTERM, &down, NULL);
  struct sigaction reap = {.sa_handler = sigreap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGCHLD, &reap, NULL);
  for (;;) pause();
  return 42;
}
