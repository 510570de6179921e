/*
 * portcullis from C: load a policy, decide a list of labelled actions, print a table.
 *
 *   demo examples/demo-policy.json examples/demo-actions.json
 *
 * The actions file is a JSON array of {"label": "...", "action": {...}}. Each action is
 * decided with portcullis_engine_evaluate, the allocation-free call that fills a plain struct.
 * Build: cc demo.c -Iinclude target/release/libportcullis.a -lcjson -lpthread -ldl -lm
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "portcullis.h"

static const char *const EFFECTS[] = {"allow", "deny", "require_approval"};
static const char *const CODES[] = {"rule", "default", "approved", "rate_limited",
                                    "approval_required", "unknown_agent", "invalid_action",
                                    "engine_error"};

static const char *name_of(const char *const *names, uint32_t count, uint32_t value) {
    return value < count ? names[value] : "?";
}

static char *read_file(const char *path, size_t *out_len) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    size_t len = 0, cap = 4096;
    char *data = malloc(cap);
    while (data != NULL) {
        len += fread(data + len, 1, cap - len, file);
        if (len < cap) {
            break;
        }
        cap *= 2;
        char *bigger = realloc(data, cap);
        if (bigger == NULL) {
            free(data);
        }
        data = bigger;
    }
    if (ferror(file)) {
        free(data);
        data = NULL;
    }
    fclose(file);
    *out_len = len;
    return data;
}

/* Prints `text` left-aligned in `width` characters (Unicode scalar values, not bytes). */
static void print_padded(const char *text, size_t len, int width) {
    int chars = 0;
    for (size_t i = 0; i < len; i++) {
        chars += ((unsigned char)text[i] & 0xC0) != 0x80;
    }
    fwrite(text, 1, len, stdout);
    for (; chars < width; chars++) {
        putchar(' ');
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s POLICY.json ACTIONS.json\n", argv[0]);
        return 2;
    }
    if (portcullis_abi_version() >> 16 != PORTCULLIS_ABI_VERSION_MAJOR) {
        fprintf(stderr, "libportcullis has ABI %#x; this program needs major version %d\n",
                portcullis_abi_version(), PORTCULLIS_ABI_VERSION_MAJOR);
        return 1;
    }

    size_t policy_len = 0, actions_len = 0;
    char *policy = read_file(argv[1], &policy_len);
    char *actions_text = read_file(argv[2], &actions_len);
    if (policy == NULL || actions_text == NULL) {
        fprintf(stderr, "cannot read %s\n", policy == NULL ? argv[1] : argv[2]);
        free(policy);
        free(actions_text);
        return 1;
    }

    portcullis_engine *engine = NULL;
    portcullis_error *err = NULL;
    portcullis_status status = portcullis_engine_new((const uint8_t *)policy, policy_len, NULL, &engine, &err);
    free(policy);
    if (status != PORTCULLIS_OK) {
        fprintf(stderr, "%s: %s at \"%s\": %s\n", argv[1], portcullis_status_name(status),
                portcullis_error_path(err), portcullis_error_message(err));
        portcullis_error_free(err);
        free(actions_text);
        return 1;
    }

    cJSON *list = cJSON_ParseWithLength(actions_text, actions_len);
    free(actions_text);
    if (!cJSON_IsArray(list)) {
        fprintf(stderr, "%s: expected a JSON array\n", argv[2]);
        cJSON_Delete(list);
        portcullis_engine_free(engine);
        return 1;
    }

    int exit_code = 0;
    printf("== C ==\n");
    for (const cJSON *item = list->child; item != NULL; item = item->next) {
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(item, "label");
        const cJSON *action = cJSON_GetObjectItemCaseSensitive(item, "action");
        char *action_text = action != NULL ? cJSON_PrintUnformatted(action) : NULL;
        const char *text = action_text != NULL ? action_text : "null";

        portcullis_decision d;
        status = portcullis_engine_evaluate(engine, (const uint8_t *)text, strlen(text), &d);
        cJSON_free(action_text);
        if (status != PORTCULLIS_OK) {
            fprintf(stderr, "portcullis_engine_evaluate: %s\n", portcullis_status_name(status));
            exit_code = 1;
            break;
        }

        const char *label_text = cJSON_IsString(label) ? label->valuestring : "?";
        const char *effect = name_of(EFFECTS, sizeof EFFECTS / sizeof *EFFECTS, d.effect);
        const char *code = name_of(CODES, sizeof CODES / sizeof *CODES, d.code);
        printf("  ");
        print_padded(label_text, strlen(label_text), 38);
        printf(" ");
        print_padded(effect, strlen(effect), 17);
        printf(" ");
        print_padded(code, strlen(code), 18);
        printf(" ");
        if (d.has_rule) {
            fwrite(d.rule, 1, d.rule_len, stdout);
        } else {
            printf("-");
        }
        printf("\n");
    }

    cJSON_Delete(list);
    portcullis_engine_free(engine);
    return exit_code;
}
