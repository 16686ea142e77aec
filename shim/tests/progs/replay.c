/* Replays recorded cuGetProcAddress requests ("name version flags" per line on stdin) through one
 * lookup path and prints, per request, whose function came back; with --call, calls each
 * function once in a forked child (so a fault latched by one call cannot decide the next) with
 * no arguments: only for functions the armed shim fails before reading any.
 * Usage: replay getproc|getproc_v2|self|self11|entry [--call]
 * Output: "<name> <version> <flags> via=<shim|real|none> [rc=<rc>]" */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef int (*gpa_t)(const char *, void **, int, unsigned long long);
typedef int (*gpa2_t)(const char *, void **, int, unsigned long long, int *);
extern int cudaGetDriverEntryPointByVersion(const char *, void **, unsigned, unsigned long long, int *);

static const char *owner(void *fn) {
    Dl_info info;
    if (!fn || !dladdr(fn, &info) || !info.dli_fname) return "none";
    return strstr(info.dli_fname, "cuda_intercept") ? "shim" : "real";
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *path = argv[1];
    int call = argc > 2 && strcmp(argv[2], "--call") == 0;
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) return 3;
    gpa_t gpa = (gpa_t)dlsym(h, "cuGetProcAddress");
    gpa2_t gpa2 = (gpa2_t)dlsym(h, "cuGetProcAddress_v2");
    void *self = NULL;
    int st = 0;
    if (strcmp(path, "self") == 0 && (!gpa2 || gpa2("cuGetProcAddress", &self, 12000, 0, &st) != 0)) return 4;
    if (strcmp(path, "self11") == 0 && (!gpa || gpa("cuGetProcAddress", &self, 11030, 0) != 0)) return 4;
    char line[512], name[256];
    int ver;
    unsigned long long flags;
    while (fgets(line, sizeof line, stdin)) {
        if (line[0] == '#' || sscanf(line, "%255s %d %llu", name, &ver, &flags) != 3) continue;
        void *fn = NULL;
        int rc = -1;
        if (strcmp(path, "getproc") == 0) rc = gpa(name, &fn, ver, flags);
        else if (strcmp(path, "getproc_v2") == 0) rc = gpa2(name, &fn, ver, flags, &st);
        else if (strcmp(path, "self") == 0) rc = ((gpa2_t)self)(name, &fn, ver, flags, &st);
        else if (strcmp(path, "self11") == 0) rc = ((gpa_t)self)(name, &fn, ver, flags);
        else if (strcmp(path, "entry") == 0) rc = cudaGetDriverEntryPointByVersion(name, &fn, (unsigned)ver, flags, &st);
        if (rc != 0) fn = NULL;
        printf("%s %d %llu via=%s", name, ver, flags, owner(fn));
        if (call && fn) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                printf(" rc=%d", ((int (*)(void))fn)());
                fflush(stdout);
                _exit(0);
            }
            int status = 0;
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status)) printf(" rc=crash");
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
