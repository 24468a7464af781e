/*
 * The kernel's price for a fan-out send on this machine, with no server in the way.
 *
 * One process opens N loopback TCP connections to itself, forks a reader that drains every
 * client end with epoll on CPU 1, and then, pinned to CPU 0, sends a frame of SIZE bytes
 * (BATCH frames per send) to each server end in turn with send(MSG_DONTWAIT) and TCP_NODELAY
 * for three seconds. It prints sends/s and the sender's CPU (user + system) per send and per
 * frame: the floor under what `scholia-bench s2`/`s3` measure as CPU per delivery, since on
 * loopback the sender's core also runs the receiving side of TCP.
 *
 *   gcc -O2 -o /tmp/send_floor crates/scholia-bench/tools/send_floor.c
 *   /tmp/send_floor 9900 1000      # N sockets (both ends count against the 20k fd cap), bytes
 *   /tmp/send_floor 9900 1000 8    # eight frames per send
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static double cpu_secs(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec +
           r.ru_stime.tv_usec / 1e6;
}

static void drain(const int *fds, int n) {
    pin(1);
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.fd = fds[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
    }
    static char buf[65536];
    struct epoll_event ready[512];
    for (;;) {
        int k = epoll_wait(ep, ready, 512, -1);
        for (int j = 0; j < k; j++)
            while (read(ready[j].data.fd, buf, sizeof buf) == (ssize_t)sizeof buf) {
            }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SOCKETS FRAME_BYTES [FRAMES_PER_SEND]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]), size = atoi(argv[2]), batch = argc > 3 ? atoi(argv[3]) : 1;
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t len = sizeof addr;
    if (bind(listener, (void *)&addr, sizeof addr) || listen(listener, 4096) ||
        getsockname(listener, (void *)&addr, &len)) {
        perror("listen");
        return 1;
    }
    int *client = malloc(n * sizeof *client), *server = malloc(n * sizeof *server);
    for (int i = 0; i < n; i++) {
        /* 64 source addresses, as the load generator uses, so ports never run out. */
        struct sockaddr_in src = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(0x7f010001 + (i % 64))};
        client[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (client[i] < 0 || bind(client[i], (void *)&src, sizeof src) ||
            connect(client[i], (void *)&addr, sizeof addr)) {
            perror("connect (both ends count against the open-file limit)");
            return 1;
        }
        server[i] = accept(listener, 0, 0);
        setsockopt(server[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    pid_t reader = fork();
    if (reader == 0) drain(client, n);
    pin(0);
    char *frame = malloc((size_t)size * batch);
    memset(frame, 'x', (size_t)size * batch);
    double cpu0 = cpu_secs(), t0 = now(), t;
    long sends = 0;
    while ((t = now() - t0) < 3.0)
        for (int i = 0; i < n; i++)
            if (send(server[i], frame, (size_t)size * batch, MSG_DONTWAIT) > 0) sends++;
    double cpu = cpu_secs() - cpu0;
    printf("%d sockets, %d-byte frames, %d per send: %.0f sends/s, %.2f us CPU per send, "
           "%.0f frames/s, %.2f us CPU per frame\n",
           n, size, batch, sends / t, cpu / sends * 1e6, sends * batch / t,
           cpu / ((double)sends * batch) * 1e6);
    kill(reader, SIGKILL);
    return 0;
}
