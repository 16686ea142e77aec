/* A program that never touches CUDA: loads a library, looks a symbol up, forks and prints. Under the shim it must make exactly the syscalls it makes without it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    double (*cosp)(double) = h ? (double (*)(double))dlsym(h, "cos") : NULL;
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    printf("cos(0)=%.1f\n", cosp ? cosp(0.0) : -1.0);
    return 0;
}
