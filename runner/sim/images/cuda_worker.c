/* The embedded cluster's CUDA inference worker (image chaos/cuda-worker).
 *
 * It exists to be a realistic victim for the fault-injection shim: a dynamically linked program
 * that does its work through the CUDA runtime, so that everything the shim does to CUDA calls
 * (LD_PRELOAD) shows in what the worker's callers see. It serves HTTP on 127.0.0.1:$PORT:
 *   POST /v1/completions  an OpenAI-compatible completion; each request allocates, copies,
 *                         launches and synchronises on every GPU the process sees before answering
 *                         (with `"stream": true`: Server-Sent Events, one `data: {...}` chunk per
 *                         token with CUDA work for each, then `data: [DONE]`);
 *   GET /v1/models, GET /health, GET /healthz (200 while it runs), GET / (a status line).
 * Between requests it keeps the GPU busy the same way every --idle-work-ms (default 50; 0: only
 * requests), one GPU per tick, as a server's background work does; --token-ms paces streamed
 * tokens (a decode step each; default 0). It prints each GPU it sees at
 * start (`device N: NAME UUID PCI-BUS-ID`). On the first CUDA error it prints
 * "fatal: <call> failed: <name> (<code>)" to stderr, fails the request in flight with HTTP 500
 * naming the error (a streamed one with an error event), and exits with status 1, as a real
 * inference server does when its GPU goes away. With no GPU visible (NVIDIA_VISIBLE_DEVICES=void)
 * it serves without CUDA work (a CPU-only frontend). Every answer names the pod that served it
 * (`X-Served-By: $HOSTNAME`), so a probe's samples say which endpoint the service proxy chose. It must stay small, single-threaded and free
 * of any knowledge of faults (those come only from the shim).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fake_cuda.h"

#define BUF_BYTES (256 * 1024)
#define HEAD_MAX 16384
#define BODY_MAX 65536
#define TOKENS_MAX 512
#define DEFAULT_TOKENS 16

static volatile sig_atomic_t stopping = 0;
static unsigned long iterations = 0, requests = 0;
static int devices = 0; /* 0: no GPU visible (NVIDIA_VISIBLE_DEVICES=void): serve without CUDA work */
static const char *model = "chaos-sim";
static long token_ms = 0; /* --token-ms: time per streamed token (a decode step), 0: none */
static unsigned char host[BUF_BYTES];
static char served_by[96] = ""; /* "X-Served-By: <pod>\r\n" from $HOSTNAME (the pod's name), or empty */

typedef struct {
    const char *call; /* the CUDA call that failed */
    cudaError_t err;
} cuda_failure;

static void on_term(int sig) {
    (void)sig;
    stopping = 1;
}

static void fake_kernel(void) {}

static void die(const cuda_failure *f) {
    fprintf(stderr, "fatal: %s failed: %s (%d)\n", f->call, cudaGetErrorName(f->err), f->err);
    fflush(stderr);
    exit(1);
}

static void check(const char *call, cudaError_t err) {
    if (err != 0) {
        cuda_failure f = {call, err};
        die(&f);
    }
}

#define TRY(f, name, expr)                                                                         \
    do {                                                                                           \
        cudaError_t e_ = (expr);                                                                   \
        if (e_ != 0) {                                                                             \
            (f)->call = (name);                                                                    \
            (f)->err = e_;                                                                         \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

/* One unit of GPU work on `device`: allocate, copy in, launch, synchronise, copy out, free. */
static int cuda_step(int device, cuda_failure *f) {
    void *dev = NULL;
    dim3 grid = {1, 1, 1};
    dim3 block = {128, 1, 1};
    if (devices > 1) TRY(f, "cudaSetDevice", cudaSetDevice(device));
    TRY(f, "cudaMalloc", cudaMalloc(&dev, BUF_BYTES));
    TRY(f, "cudaMemcpy", cudaMemcpy(dev, host, BUF_BYTES, 1));
    TRY(f, "cudaLaunchKernel", cudaLaunchKernel((const void *)fake_kernel, grid, block, NULL, 0, NULL));
    TRY(f, "cudaGetLastError", cudaGetLastError());
    TRY(f, "cudaDeviceSynchronize", cudaDeviceSynchronize());
    TRY(f, "cudaMemcpy", cudaMemcpy(host, dev, BUF_BYTES, 2));
    TRY(f, "cudaFree", cudaFree(dev));
    iterations++;
    return 0;
}

/* The work behind one answer (a response, or one streamed chunk): every GPU the process has. */
static int request_work(cuda_failure *f) {
    for (int d = 0; d < devices; d++)
        if (cuda_step(d, f) != 0) return -1;
    return 0;
}

/* --- HTTP ------------------------------------------------------------------------------------ */

static int send_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void respond(int fd, int code, const char *status, const char *body) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "%sConnection: close\r\n\r\n", code, status, strlen(body), served_by);
    if (n > 0 && send_all(fd, head, (size_t)n) == 0) send_all(fd, body, strlen(body));
}

/* One chunk of a chunked (Transfer-Encoding) body; an empty one ends the body. */
static int send_chunk(int fd, const char *data) {
    char size[32];
    size_t len = strlen(data);
    snprintf(size, sizeof size, "%zx\r\n", len);
    if (send_all(fd, size, strlen(size)) != 0) return -1;
    if (len && send_all(fd, data, len) != 0) return -1;
    return send_all(fd, "\r\n", 2);
}

/* The OpenAI-compatible error body vLLM answers with. */
static void error_body(char *out, size_t len, const cuda_failure *f) {
    snprintf(out, len,
             "{\"object\":\"error\",\"message\":\"CUDA error: %s (%d) in %s\",\"type\":\"InternalServerError\","
             "\"param\":null,\"code\":500}",
             cudaGetErrorName(f->err), f->err, f->call);
}

typedef struct {
    char method[8];
    char path[256];
    char body[BODY_MAX + 1];
    size_t body_len;
} request_t;

/* Read one request (headers and a Content-Length body); -1 when there is none to answer. */
static int read_request(int fd, request_t *r) {
    static char buf[HEAD_MAX + BODY_MAX + 1];
    size_t got = 0;
    char *end = NULL;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (end == NULL) {
        if (got >= HEAD_MAX) return -1;
        ssize_t n = recv(fd, buf + got, HEAD_MAX - got, 0);
        if (n <= 0) return -1;
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - buf) + 4;
    if (sscanf(buf, "%7s %255s", r->method, r->path) != 2) return -1;
    char *q = strchr(r->path, '?');
    if (q) *q = '\0';
    size_t want = 0;
    for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0) want = (size_t)strtoul(line + 17, NULL, 10);
    }
    if (want > BODY_MAX) return -1;
    while (got - head_len < want) {
        ssize_t n = recv(fd, buf + got, head_len + want - got, 0);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    memcpy(r->body, buf + head_len, want);
    r->body[want] = '\0';
    r->body_len = want;
    return 0;
}

/* The value after `"key":` in a flat JSON object, or NULL. */
static const char *json_value(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(json, pattern);
    if (p == NULL) return NULL;
    p += strlen(pattern);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Words in the JSON string at `p` (or the first string of an array): the prompt's "tokens". */
static int prompt_words(const char *p) {
    int words = 0, in_word = 0;
    if (p == NULL) return 0;
    if (*p == '[') p++;
    while (*p == ' ') p++;
    if (*p != '"') return 0;
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) p++;
        int space = *p == ' ' || *p == '\n' || *p == '\t';
        if (!space && !in_word) words++;
        in_word = !space;
    }
    return words;
}

static void completion_json(char *out, size_t len, unsigned long id, long created, const char *text,
                            const char *finish, int prompt_tokens, int completion_tokens) {
    char finish_json[32] = "null", usage[160] = "";
    if (finish) snprintf(finish_json, sizeof finish_json, "\"%s\"", finish);
    if (completion_tokens >= 0)
        snprintf(usage, sizeof usage,
                 ",\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,\"completion_tokens\":%d}",
                 prompt_tokens, prompt_tokens + completion_tokens, completion_tokens);
    snprintf(out, len,
             "{\"id\":\"cmpl-chaos-%lu\",\"object\":\"text_completion\",\"created\":%ld,\"model\":\"%s\","
             "\"choices\":[{\"index\":0,\"text\":\"%s\",\"logprobs\":null,\"finish_reason\":%s,"
             "\"stop_reason\":null}]%s,\"iterations\":%lu}",
             id, created, model, text, finish_json, usage, iterations);
}

static void fail_and_exit(int fd, const cuda_failure *f) {
    char body[512];
    fprintf(stderr, "fatal: %s failed: %s (%d)\n", f->call, cudaGetErrorName(f->err), f->err);
    fflush(stderr);
    error_body(body, sizeof body, f);
    respond(fd, 500, "Internal Server Error", body);
    close(fd);
    exit(1);
}

static void completions(int fd, const request_t *r) {
    const char *v;
    int max_tokens = DEFAULT_TOKENS;
    int stream = 0;
    cuda_failure f = {NULL, 0};
    if ((v = json_value(r->body, "max_tokens")) != NULL && *v >= '0' && *v <= '9') max_tokens = atoi(v);
    if (max_tokens < 1) max_tokens = 1;
    if (max_tokens > TOKENS_MAX) max_tokens = TOKENS_MAX;
    if ((v = json_value(r->body, "stream")) != NULL && strncmp(v, "true", 4) == 0) stream = 1;
    int prompt_tokens = prompt_words(json_value(r->body, "prompt"));
    unsigned long id = ++requests;
    long created = (long)time(NULL);
    static char text[TOKENS_MAX * 12 + 1];
    static char body[TOKENS_MAX * 12 + 1024];

    if (request_work(&f) != 0) fail_and_exit(fd, &f); /* nothing sent yet: a plain 500 */
    if (!stream) {
        size_t at = 0;
        for (int i = 0; i < max_tokens; i++) at += (size_t)snprintf(text + at, sizeof text - at, " tok%d", i);
        completion_json(body, sizeof body, id, created, text, "length", prompt_tokens, max_tokens);
        respond(fd, 200, "OK", body);
        return;
    }
    char head[256];
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
             "no-cache\r\nTransfer-Encoding: chunked\r\n%sConnection: close\r\n\r\n", served_by);
    if (send_all(fd, head, strlen(head)) != 0) return;
    for (int i = 0; i < max_tokens; i++) {
        char token[16];
        static char event[sizeof body + 16];
        if (i > 0 && token_ms > 0) {
            struct timespec step = {token_ms / 1000, (token_ms % 1000) * 1000000L};
            while (nanosleep(&step, &step) != 0 && errno == EINTR) {}
        }
        if (i > 0 && request_work(&f) != 0) {
            char err[512];
            fprintf(stderr, "fatal: %s failed: %s (%d)\n", f.call, cudaGetErrorName(f.err), f.err);
            fflush(stderr);
            error_body(err, sizeof err, &f);
            snprintf(event, sizeof event, "data: %s\n\n", err);
            send_chunk(fd, event);
            send_chunk(fd, "data: [DONE]\n\n");
            send_chunk(fd, "");
            close(fd);
            exit(1);
        }
        snprintf(token, sizeof token, " tok%d", i);
        completion_json(body, sizeof body, id, created, token, i + 1 == max_tokens ? "length" : NULL, 0, -1);
        snprintf(event, sizeof event, "data: %s\n\n", body);
        if (send_chunk(fd, event) != 0) return; /* the client went away */
    }
    send_chunk(fd, "data: [DONE]\n\n");
    send_chunk(fd, "");
}

static void serve_one(int listener) {
    static request_t r;
    char body[512];
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) return;
    int one = 1; /* each streamed chunk goes out as it is written, as servers do (no Nagle delay) */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (read_request(fd, &r) != 0) {
        close(fd);
        return;
    }
    int get = strcmp(r.method, "GET") == 0;
    if (strcmp(r.path, "/healthz") == 0 || strcmp(r.path, "/health") == 0) {
        respond(fd, get ? 200 : 405, get ? "OK" : "Method Not Allowed", "{\"status\":\"ok\"}");
    } else if (strcmp(r.path, "/v1/models") == 0 && get) {
        snprintf(body, sizeof body,
                 "{\"object\":\"list\",\"data\":[{\"id\":\"%s\",\"object\":\"model\",\"created\":%ld,"
                 "\"owned_by\":\"chaos\",\"root\":\"%s\",\"parent\":null,\"max_model_len\":4096}]}",
                 model, (long)time(NULL), model);
        respond(fd, 200, "OK", body);
    } else if (strcmp(r.path, "/v1/completions") == 0 && strcmp(r.method, "POST") == 0) {
        completions(fd, &r);
    } else if (strcmp(r.path, "/") == 0 && get) {
        snprintf(body, sizeof body, "{\"status\":\"ok\",\"model\":\"%s\",\"devices\":%d,\"iterations\":%lu}",
                 model, devices, iterations);
        respond(fd, 200, "OK", body);
    } else {
        respond(fd, 404, "Not Found",
                "{\"object\":\"error\",\"message\":\"Not Found\",\"type\":\"NotFoundError\",\"code\":404}");
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
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
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

static long elapsed_ms(const struct timespec *a, const struct timespec *b) {
    return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

int main(int argc, char **argv) {
    const char *port_env = getenv("PORT");
    int port = port_env ? atoi(port_env) : 8000;
    long idle_ms = 50;
    struct timespec last = {0, 0};

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--idle-work-ms") == 0 && i + 1 < argc) idle_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
        else if (strcmp(argv[i], "--token-ms") == 0 && i + 1 < argc) token_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: cuda-worker [--idle-work-ms N] [--token-ms N] [--model NAME] [--port N]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *pod = getenv("HOSTNAME");
    if (pod && *pod && strlen(pod) < 64 && strpbrk(pod, "\r\n") == NULL)
        snprintf(served_by, sizeof served_by, "X-Served-By: %s\r\n", pod);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
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
        int ready = poll(&p, 1, idle_ms > 0 ? (int)idle_ms : 1000);
        if (ready > 0 && (p.revents & POLLIN)) serve_one(listener);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (idle_ms > 0 && devices > 0 && elapsed_ms(&last, &now) >= idle_ms) {
            cuda_failure f = {NULL, 0};
            last = now;
            if (cuda_step((int)(iterations % (unsigned long)devices), &f) != 0) die(&f);
            if (iterations % 100 == 0) printf("cuda-worker: %lu iterations\n", iterations);
        }
    }
    printf("cuda-worker: stopping after %lu iterations (%lu requests)\n", iterations, requests);
    close(listener);
    return 0;
}
