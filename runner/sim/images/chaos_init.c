/* chaos-init: the first process of every container the embedded cluster's kubelet starts.
 *
 * Why it exists: containers here are plain processes, and nothing in the kernel ends a process
 * because the program that started it died. A real container ends with its PID namespace; this
 * is the same promise without one: when the cluster's process dies, however it dies (SIGKILL
 * included), everything this container started dies too, grandchildren and processes that left
 * the container's process group or session included.
 *
 * How: `chaos-init PARENT_PID -- PROGRAM [ARGS...]` (run as the leader of the container's new
 * session and process group, which the kubelet signals as a whole) asks the kernel for a signal
 * when its parent dies (PR_SET_PDEATHSIG) and becomes a child subreaper (PR_SET_CHILD_SUBREAPER),
 * so that every orphan the program leaves is reparented to it rather than to PID 1. It then forks
 * and execs PROGRAM and waits. It ends everything below it (SIGKILL, repeated until nothing is
 * left) when:
 *   - its parent is gone (the death signal, or getppid() no longer PARENT_PID; checked every
 *     second as well, in case the signal raced with start-up);
 *   - the program exits (a container ends with its PID 1); chaos-init then exits with the
 *     program's status (128+N when a signal N ended it, as a shell reports it);
 *   - it receives SIGUSR1 (the kubelet's "grace period over": exits 137 like a SIGKILLed PID 1).
 * SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to the group reach the program directly; chaos-init
 * takes no action on them. The program starts with every signal unblocked and default handlers.
 * It must stay tiny, take no options beyond these, and never outlive its parent.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARD_STOP SIGUSR1

struct proc_entry {
    pid_t pid;
    pid_t ppid;
};

/* Every live (not zombie) process with its parent, read from /proc. Returns the count. */
static size_t read_procs(struct proc_entry **out) {
    size_t n = 0, cap = 256;
    struct proc_entry *list = malloc(cap * sizeof *list);
    DIR *dir = opendir("/proc");
    struct dirent *de;
    if (list == NULL || dir == NULL) {
        free(list);
        if (dir) closedir(dir);
        *out = NULL;
        return 0;
    }
    while ((de = readdir(dir)) != NULL) {
        char path[64], buf[512];
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 0) continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *fh = fopen(path, "r");
        if (fh == NULL) continue;
        size_t got = fread(buf, 1, sizeof buf - 1, fh);
        fclose(fh);
        buf[got] = '\0';
        char *close_paren = strrchr(buf, ')'); /* the command name may hold spaces and parens */
        char state;
        long ppid;
        if (close_paren == NULL || sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2) continue;
        if (state == 'Z' || state == 'X') continue;
        if (n == cap) {
            struct proc_entry *bigger = realloc(list, 2 * cap * sizeof *list);
            if (bigger == NULL) break;
            list = bigger;
            cap *= 2;
        }
        list[n].pid = (pid_t)pid;
        list[n].ppid = (pid_t)ppid;
        n++;
    }
    closedir(dir);
    *out = list;
    return n;
}

/* SIGKILL every live descendant of this process; returns how many there were. */
static size_t kill_descendants(void) {
    struct proc_entry *procs;
    size_t n = read_procs(&procs);
    size_t killed = 0;
    if (procs == NULL) return 0;
    pid_t *queue = malloc((n + 1) * sizeof *queue);
    if (queue == NULL) {
        free(procs);
        return 0;
    }
    size_t head = 0, tail = 0;
    queue[tail++] = getpid();
    while (head < tail) {
        pid_t parent = queue[head++];
        for (size_t i = 0; i < n; i++) {
            if (procs[i].ppid == parent && procs[i].pid != 0 && tail <= n) {
                queue[tail++] = procs[i].pid;
                kill(procs[i].pid, SIGKILL);
                procs[i].pid = 0; /* visited */
                killed++;
            }
        }
    }
    free(queue);
    free(procs);
    return killed;
}

/* Reap every exited child; remembers the program's status. Returns -1 once no child is left. */
static int reap(pid_t program, int *status, int *program_done) {
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p == 0) return 0;
        if (p < 0) return errno == EINTR ? 0 : -1;
        if (p == program) {
            *status = st;
            *program_done = 1;
        }
    }
}

/* End everything below this process: kill what is alive, reap what is ours, until nothing is left
 * (a killed parent's children are reparented here, as this process is their subreaper). */
static void end_all(pid_t program, int *status, int *program_done) {
    for (int round = 0; round < 5000; round++) {
        size_t alive = kill_descendants();
        int no_children = reap(program, status, program_done) < 0;
        if (alive == 0 && no_children) return;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: chaos-init PARENT_PID -- PROGRAM [ARGS...]\n");
        return 2;
    }
    pid_t parent = (pid_t)strtol(argv[1], NULL, 10);
    sigset_t waited, old;
    sigemptyset(&waited);
    sigaddset(&waited, SIGCHLD);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, SIGINT);
    sigaddset(&waited, SIGHUP);
    sigaddset(&waited, SIGQUIT);
    sigaddset(&waited, HARD_STOP);
    /* blocked before asking for the death signal, so that it waits for sigtimedwait below */
    sigprocmask(SIG_BLOCK, &waited, &old);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        perror("chaos-init: prctl");
        return 126;
    }
    if (getppid() != parent) return 137; /* the parent died before we could watch it */

    pid_t program = fork();
    if (program < 0) {
        perror("chaos-init: fork");
        return 126;
    }
    if (program == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[3], &argv[3]);
        fprintf(stderr, "chaos-sim: cannot start '%s': %s\n", argv[3], strerror(errno));
        _exit(127);
    }

    int status = 0, program_done = 0;
    for (;;) {
        struct timespec second = {1, 0};
        int sig = sigtimedwait(&waited, NULL, &second);
        if (getppid() != parent) {
            end_all(program, &status, &program_done);
            return 137;
        }
        if (sig == HARD_STOP) {
            end_all(program, &status, &program_done);
            return 137;
        }
        reap(program, &status, &program_done);
        if (program_done) {
            end_all(program, &status, &program_done);
            return exit_code(status);
        }
    }
}
