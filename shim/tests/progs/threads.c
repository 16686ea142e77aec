/* 16 threads call the runtime while the main thread arms and disarms the toggle file:
 * run under the TSan build of the shim to find data races in the state machine.
 * With "gpus", the file arms one GPU of two (gpus=1), the threads switch devices, and half of
 * them look the driver's functions up through cuGetProcAddress as they go (the shim binds its
 * alternates concurrently; STUB_CUDA_PROC=internal makes every answer an internal function).
 * Usage: threads TOGGLE_FILE ROUNDS [gpus] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlfcn.h>
extern int cudaMalloc(void **, size_t);
extern int cudaStreamSynchronize(void *);
extern int cudaSetDevice(int);
static atomic_int stop, gpus;
static atomic_long failures, calls;
typedef int (*gpa2_t)(const char *, void **, int, unsigned long long, int *);

static void *worker(void *arg) {
    long id = (long)arg;
    gpa2_t gpa = NULL;
    if (atomic_load(&gpus) && id % 2) {
        void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        gpa = h ? (gpa2_t)dlsym(h, "cuGetProcAddress_v2") : NULL;
    }
    for (long i = 0; !atomic_load(&stop); i++) {
        void *p = NULL;
        if (atomic_load(&gpus)) cudaSetDevice((int)((id + i) % 2));
        if (cudaMalloc(&p, 16) != 0) atomic_fetch_add(&failures, 1);
        cudaStreamSynchronize(NULL);
        if (gpa) {
            void *fn = NULL;
            int st;
            static const char *const names[] = {"cuMemAlloc", "cuLaunchKernel", "cuEventRecord", "cuMemsetD8"};
            gpa(names[i % 4], &fn, 12000, (unsigned long long)(i % 3), &st);
        }
        atomic_fetch_add(&calls, 2);
    }
    return NULL;
}

static void write_toggle(const char *path, const char *text) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) exit(2);
    fputs(text, f);
    fclose(f);
    rename(tmp, path);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) return 2;
    atomic_store(&gpus, argc == 4 && strcmp(argv[3], "gpus") == 0);
    pthread_t t[16];
    for (long i = 0; i < 16; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    int rounds = atoi(argv[2]);
    for (int i = 0; i < rounds; i++) {
        write_toggle(argv[1], i % 2 ? "0\n" : atomic_load(&gpus) ? "1\nxid=94\ngpus=1\n" : "1\nxid=94\n");
        usleep(2000);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 16; i++) pthread_join(t[i], NULL);
    printf("calls=%ld failures=%ld\n", atomic_load(&calls), atomic_load(&failures));
    return 0;
}
