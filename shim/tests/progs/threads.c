/* 16 threads call the runtime while the main thread arms and disarms the toggle file:
 * run under the TSan build of the shim to find data races in the state machine.
 * Usage: threads TOGGLE_FILE ROUNDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern int cudaMalloc(void **, size_t);
extern int cudaStreamSynchronize(void *);
static atomic_int stop;
static atomic_long failures, calls;

static void *worker(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        void *p = NULL;
        if (cudaMalloc(&p, 16) != 0) atomic_fetch_add(&failures, 1);
        cudaStreamSynchronize(NULL);
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
    if (argc != 3) return 2;
    pthread_t t[16];
    for (int i = 0; i < 16; i++) pthread_create(&t[i], NULL, worker, NULL);
    int rounds = atoi(argv[2]);
    for (int i = 0; i < rounds; i++) {
        write_toggle(argv[1], i % 2 ? "0\n" : "1\nxid=94\n");
        usleep(2000);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 16; i++) pthread_join(t[i], NULL);
    printf("calls=%ld failures=%ld\n", atomic_load(&calls), atomic_load(&failures));
    return 0;
}
