// The attach stage of lxc-initd: join a running container's namespaces
// before the Go runtime starts any thread.
//
// setns(2) into a mount or user namespace is refused for a multi-threaded
// process, and joining a PID namespace only affects children. So this runs
// as a constructor, while the process is still single-threaded, and only
// when the environment asks for it:
//
//   _LXC_SHIM_ATTACH_PID         host PID of the container's init
//   _LXC_SHIM_ATTACH_ERRFD       descriptor for error messages (else 2)
//   _LXC_SHIM_ATTACH_CGROUP_FDS  comma-separated descriptors of the init's
//                                cgroup.procs files, opened by the caller
//
// It moves itself into those cgroups, joins the init's namespaces (user
// first, mount last, skipping any it already shares), forks once, and lets
// the child (now PID n inside the container) go on into Go. The parent stays
// outside as a waiter: it forwards signals sent to it with kill(2), ignores
// the ones a terminal sends to the whole process group (the child got those
// itself), and exits with the child's status (128+N for signal N).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int lxc_shim_entered;
static int errfd = 2;
static volatile pid_t child_pid;

int lxc_shim_nsenter_entered(void) { return lxc_shim_entered; }

static void die(int code, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		_exit(code);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(errfd, buf, n) < 0) {
		/* nothing left to report to */
	}
	_exit(code);
}

static void join_cgroups(const char *list)
{
	const char *p = list;

	while (*p) {
		char *end;
		long fd = strtol(p, &end, 10);

		if (end == p || fd < 0)
			die(1, "bad cgroup descriptor list \"%s\"", list);
		/* "0" moves the writing process itself. */
		if (write((int)fd, "0", 1) < 0) {
			char link[64], path[256];
			ssize_t n;
			int e = errno;

			snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
			n = readlink(link, path, sizeof(path) - 1);
			path[n < 0 ? 0 : n] = '\0';
			die(1, "join the container's cgroup: write %s: %s", n < 0 ? link : path, strerror(e));
		}
		close((int)fd);
		p = end;
		if (*p == ',')
			p++;
	}
}

struct ns {
	const char *name;
	int type;
};

/* user first (it gives the capabilities the others need), mnt last (it
 * changes what /proc/PID means). */
static const struct ns namespaces[] = {
	{"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
	{"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID},
	{"mnt", CLONE_NEWNS},
};
#define NNS (sizeof(namespaces) / sizeof(namespaces[0]))

static void join_namespaces(const char *pid)
{
	int fds[NNS];
	size_t i;

	/* Open them all first: once in the container's mount namespace,
	 * /proc/PID is the container's /proc (or nothing). */
	for (i = 0; i < NNS; i++) {
		char path[64], self[64];
		struct stat st, own;

		fds[i] = -1;
		snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, namespaces[i].name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", namespaces[i].name);
		if (stat(path, &st) < 0) {
			if (errno == ENOENT && stat("/proc/self/ns", &own) == 0 && stat(self, &own) < 0)
				continue; /* the kernel does not have this namespace */
			die(1, "%s: %s", path, strerror(errno));
		}
		if (stat(self, &own) == 0 && own.st_dev == st.st_dev && own.st_ino == st.st_ino)
			continue; /* shared with the host: nothing to join */
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			die(1, "open %s: %s", path, strerror(errno));
	}
	for (i = 0; i < NNS; i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], namespaces[i].type) < 0)
			die(1, "join %s namespace of PID %s: %s", namespaces[i].name, pid, strerror(errno));
		close(fds[i]);
	}
}

static void forward(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	/* A terminal's signal reached the whole process group, the child
	 * included; only pass on what was sent to us alone. */
	if (info->si_code != SI_USER && info->si_code != SI_QUEUE)
		return;
	if (child_pid > 0)
		kill(child_pid, sig);
}

static void wait_child(void)
{
	static const int sigs[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
	struct sigaction sa;
	size_t i;
	int status;

	prctl(PR_SET_NAME, "lxc-attach", 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);

	/* The waiter keeps no terminal or pipe open: the caller sees end of
	 * file when the child's side is done. */
	close(errfd);
	close(0);
	close(1);
	close(2);
	for (;;) {
		if (waitpid(child_pid, &status, 0) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		if (WIFSIGNALED(status))
			_exit(128 + WTERMSIG(status));
	}
}

__attribute__((constructor)) static void lxc_shim_nsenter(void)
{
	const char *pid = getenv("_LXC_SHIM_ATTACH_PID");
	const char *s;
	pid_t child;

	if (pid == NULL || *pid == '\0')
		return;
	s = getenv("_LXC_SHIM_ATTACH_ERRFD");
	if (s != NULL && *s != '\0')
		errfd = atoi(s);
	if (strspn(pid, "0123456789") != strlen(pid))
		die(1, "bad PID \"%s\"", pid);

	s = getenv("_LXC_SHIM_ATTACH_CGROUP_FDS");
	if (s != NULL)
		join_cgroups(s);
	join_namespaces(pid);

	child = fork();
	if (child < 0)
		die(1, "fork: %s", strerror(errno));
	if (child > 0) {
		child_pid = child;
		wait_child(); /* never returns */
	}
	unsetenv("_LXC_SHIM_ATTACH_PID");
	unsetenv("_LXC_SHIM_ATTACH_CGROUP_FDS");
	lxc_shim_entered = 1;
}
