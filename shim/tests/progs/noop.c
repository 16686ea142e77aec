/* A program that never touches CUDA: loads a library, looks a symbol up, forks, threads, writes a
 * file. Under the shim it must make exactly the syscalls it makes without it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void *worker(void *arg) { return arg; }

int main(void) {
    void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    double (*cosp)(double) = h ? (double (*)(double))dlsym(h, "cos") : NULL;
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    printf("cos(0)=%.1f\n", cosp ? cosp(0.0) : -1.0);
    return 0;
}
