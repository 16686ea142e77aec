/* The embedded cluster's CUDA inference worker (image chaos/cuda-worker).
 *
 * It exists to be a realistic victim for the fault-injection shim: a dynamically linked program that
 * drives the CUDA runtime in a loop (allocate, copy, launch, synchronise, free every ~50 ms) and
 * serves HTTP on $PORT: GET /healthz (200 while healthy), GET / and POST /v1/completions (a tiny JSON
 * answer). On the first CUDA error it prints "fatal: <call> failed: <name> (<code>)" to stderr and
 * exits with status 1, as a real inference server does when its GPU goes away. It must stay small,
 * single-threaded and free of any knowledge of faults (those come only from the shim).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fake_cuda.h"

#define BUF_BYTES (256 * 1024)
#define TICK_MS 50

static volatile sig_atomic_t stopping = 0;
static unsigned long iterations = 0;
static int devices = 0; /* 0: no GPU visible (NVIDIA_VISIBLE_DEVICES=void): serve without CUDA work */

static void on_term(int sig) {
    (void)sig;
    stopping = 1;
}

static void fake_kernel(void) {}

static void check(const char *call, cudaError_t err) {
    if (err != 0) {
        fprintf(stderr, "fatal: %s failed: %s (%d)\n", call, cudaGetErrorName(err), err);
        fflush(stderr);
        exit(1);
    }
}

static void cuda_step(unsigned char *host, int device) {
    void *dev = NULL;
    dim3 grid = {1, 1, 1};
    dim3 block = {128, 1, 1};
    if (devices > 1) check("cudaSetDevice", cudaSetDevice(device));
    check("cudaMalloc", cudaMalloc(&dev, BUF_BYTES));
    check("cudaMemcpy", cudaMemcpy(dev, host, BUF_BYTES, 1));
    check("cudaLaunchKernel", cudaLaunchKernel((const void *)fake_kernel, grid, block, NULL, 0, NULL));
    check("cudaGetLastError", cudaGetLastError());
    check("cudaDeviceSynchronize", cudaDeviceSynchronize());
    check("cudaMemcpy", cudaMemcpy(host, dev, BUF_BYTES, 2));
    check("cudaFree", cudaFree(dev));
    iterations++;
}

static void respond(int fd, const char *status, const char *body) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", status, strlen(body));
    if (n > 0 && write(fd, head, (size_t)n) < 0) return;
    if (write(fd, body, strlen(body)) < 0) return;
}

static void serve_one(int listener) {
    char req[2048];
    char body[256];
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) return;
    ssize_t got = read(fd, req, sizeof req - 1);
    if (got <= 0) {
        close(fd);
        return;
    }
    req[got] = '\0';
    if (strncmp(req, "GET /healthz", 12) == 0) {
        respond(fd, "200 OK", "{\"status\":\"ok\"}");
    } else if (strncmp(req, "POST /v1/completions", 20) == 0 || strncmp(req, "GET / ", 6) == 0) {
        snprintf(body, sizeof body,
                 "{\"object\":\"text_completion\",\"model\":\"chaos-sim\",\"iterations\":%lu,"
                 "\"choices\":[{\"index\":0,\"text\":\"ok\",\"finish_reason\":\"stop\"}]}",
                 iterations);
        respond(fd, "200 OK", body);
    } else {
        respond(fd, "404 Not Found", "{\"error\":\"not found\"}");
    }
    close(fd);
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in addr;
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as nvidia-smi prints a UUID */
static void format_uuid(const cudaUUID_t *u, char out[48]) {
    const unsigned char *b = (const unsigned char *)u->bytes;
    snprintf(out, 48, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* How many GPUs this process may use; each one printed as `device N: NAME UUID PCI-BUS-ID`. */
static int discover(void) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    const char *nvd = getenv("NVIDIA_VISIBLE_DEVICES");
    if (err == cudaErrorNoDevice && nvd != NULL &&
        (strcmp(nvd, "void") == 0 || strcmp(nvd, "none") == 0 || *nvd == '\0')) {
        printf("cuda-worker: no GPU visible (NVIDIA_VISIBLE_DEVICES=%s): serving without CUDA work\n", nvd);
        return 0;
    }
    check("cudaGetDeviceCount", err);
    for (int d = 0; d < count; d++) {
        struct cudaDeviceProp prop;
        char uuid[48];
        check("cudaGetDeviceProperties", cudaGetDeviceProperties(&prop, d));
        format_uuid(&prop.uuid, uuid);
        printf("cuda-worker: device %d: %s %s %08X:%02X:%02X.0\n", d, prop.name, uuid,
               (unsigned)prop.pciDomainID, (unsigned)prop.pciBusID, (unsigned)prop.pciDeviceID);
    }
    return count;
}

int main(void) {
    const char *port_env = getenv("PORT");
    int port = port_env ? atoi(port_env) : 8000;
    static unsigned char host[BUF_BYTES];
    struct timespec last = {0, 0};

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    devices = discover();
    int listener = listen_on(port);
    if (listener < 0) {
        fprintf(stderr, "fatal: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 2;
    }
    printf("cuda-worker: started, %d device(s), serving on 127.0.0.1:%d\n", devices, port);
    clock_gettime(CLOCK_MONOTONIC, &last);
    while (!stopping) {
        struct pollfd p = {listener, POLLIN, 0};
        int ready = poll(&p, 1, TICK_MS);
        if (ready > 0 && (p.revents & POLLIN)) serve_one(listener);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed_ms = (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000;
        if (elapsed_ms >= TICK_MS) {
            last = now;
            if (devices > 0) {
                cuda_step(host, (int)(iterations % (unsigned long)devices));
                if (iterations % 100 == 0) printf("cuda-worker: %lu iterations\n", iterations);
            }
        }
    }
    printf("cuda-worker: stopping after %lu iterations\n", iterations);
    close(listener);
    return 0;
}
