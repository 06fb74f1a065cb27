/* echo: reads lines from the UART and echoes them upper-cased until "quit". */
#include "rt.h"
#define UART ((volatile uint8_t *)0x10000000)

static int getch(void) { while (!(UART[5] & 1)) {} return UART[0]; }

int main(void) {
    char line[128];
    puts_("echo ready\n");
    for (;;) {
        int n = 0, c;
        while ((c = getch()) != '\n' && c != '\r') if (n < 127) line[n++] = (char)c;
        line[n] = 0;
        if (n == 4 && line[0] == 'q' && line[1] == 'u' && line[2] == 'i' && line[3] == 't') return 0;
        for (int i = 0; i < n; i++) putch(line[i] >= 'a' && line[i] <= 'z' ? line[i] - 32 : line[i]);
        putch('\n');
    }
}
