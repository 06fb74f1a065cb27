/* sb-tcpsink: receives one TCP stream and says how it arrived, for Switchboard's migration
 * tests. It listens on PORT, accepts one connection, reads until BYTES have arrived or the
 * peer closes, checks that byte i of the stream is (i * 7 + 3) mod 251 (the pattern the test's
 * sender writes; 0 skips the check), and prints one line:
 *   sb-tcpsink: received N bytes in S.sss s, longest gap G.g ms, ok|short|corrupt|reset
 * "longest gap" is the longest time between two reads that returned data, after the first:
 * what a migration's downtime and TCP's recovery cost the stream, as the receiver saw it.
 * Every gap longer than 20 ms is printed as it ends: "sb-tcpsink: gap G.g ms at T.ttt s".
 * Usage: sb-tcpsink PORT BYTES [CHECK 0|1] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: sb-tcpsink PORT BYTES [CHECK 0|1]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long long want = atoll(argv[2]);
    int check = argc > 3 ? atoi(argv[3]) : 1;
    if (port < 1 || port > 65535 || want < 1) {
        fprintf(stderr, "sb-tcpsink: PORT 1-65535 and BYTES >= 1\n");
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0) {
        perror("sb-tcpsink: bind/listen");
        return 2;
    }
    printf("sb-tcpsink: listening on %d\n", port);
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    if (c < 0) {
        perror("sb-tcpsink: accept");
        return 2;
    }
    static unsigned char buf[65536];
    long long got = 0;
    double first = 0, last = 0, gap = 0;
    const char *verdict = "ok";
    while (got < want) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            verdict = errno == ECONNRESET ? "reset" : "error";
            break;
        }
        if (n == 0) break;
        double t = now();
        if (got == 0) first = t;
        else {
            if (t - last > gap) gap = t - last;
            if (t - last > 0.020) {
                printf("sb-tcpsink: gap %.1f ms at %.3f s\n", (t - last) * 1000.0, t - first);
                fflush(stdout);
            }
        }
        last = t;
        if (check) {
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] != (unsigned char)(((got + i) * 7 + 3) % 251)) {
                    verdict = "corrupt";
                    break;
                }
            }
        }
        got += n;
        if (strcmp(verdict, "ok") != 0) break;
    }
    if (strcmp(verdict, "ok") == 0 && got < want) verdict = "short";
    printf("sb-tcpsink: received %lld bytes in %.3f s, longest gap %.1f ms, %s\n", got, got ? last - first : 0.0,
           gap * 1000.0, verdict);
    close(c);
    close(s);
    return strcmp(verdict, "ok") == 0 ? 0 : 1;
}
