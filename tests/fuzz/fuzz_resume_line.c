/* fuzz_resume_line.c: cli_parse_resume_line (src/cli/parse.c), which reads
 * one line of an earlier output file for --resume, on arbitrary bytes (NUL
 * bytes included: it takes a length). Two checks:
 *   - the input itself, against a reference written from the contract in
 *     src/cli/cli.h: 0 only for one JSON object, as the program writes
 *     it ('{' first, '}' last), with an integer "index" from 0 to
 *     CLI_MAX_INDEX, a boolean "ok" and an "error" that is null or holds a
 *     string "code"; outputs written only then;
 *   - the writer and the reader agree: the record fp_record_error makes of
 *     the input (its text as URL and message, an index and a code drawn
 *     from it), printed as the program prints records, reads back with the
 *     same index and ok false, final unless the code is "cancelled"; so
 *     does the record fp_record_new makes of a finished job whose body
 *     (kept, as with --body) is the input; and no proper prefix of a
 *     record line (a torn last line) is read as a record. */
#include <string.h>

#include "cli.h"
#include "model.h"
#include "fuzz.h"

static bool ref_resume(const uint8_t *data, size_t size, uint64_t *index, bool *final,
                       bool *ok) {
  if (size == 0 || data[0] != '{' || data[size - 1] != '}')
    return false;
  json_t *rec = json_loadb((const char *)data, size, 0, NULL);
  bool good = false;
  if (json_is_object(rec)) {
    json_t *ix = json_object_get(rec, "index"), *okv = json_object_get(rec, "ok"),
           *err = json_object_get(rec, "error");
    json_t *code = json_object_get(err, "code");
    good = json_is_integer(ix) && json_integer_value(ix) >= 0 &&
           (uint64_t)json_integer_value(ix) <= CLI_MAX_INDEX && json_is_boolean(okv) &&
           (json_is_null(err) || (json_is_object(err) && json_is_string(code)));
    if (good) {
      *index = (uint64_t)json_integer_value(ix);
      *ok = json_is_true(okv);
      *final = !(json_is_string(code) && strcmp(json_string_value(code), "cancelled") == 0);
    }
  }
  json_decref(rec);
  return good;
}

static void check_input(const uint8_t *data, size_t size) {
  uint64_t index = 77, want_index = 0;
  bool final = false, ok = true, want_final = false, want_ok = false;
  int rc = cli_parse_resume_line((const char *)data, size, &index, &final, &ok);
  bool good = ref_resume(data, size, &want_index, &want_final, &want_ok);
  FUZZ_CHECK(rc == (good ? 0 : -1));
  if (good)
    FUZZ_CHECK(index == want_index && final == want_final && ok == want_ok);
  else
    FUZZ_CHECK(index == 77 && !final && ok); /* untouched */
}

static const int codes[] = {FP_ERR_CANCELLED, FP_ERR_TIMEOUT, FP_ERR_INVALID_JSON,
                            FP_ERR_HTTP, FP_ERR_NETWORK, FP_ERR_INVALID_URL, -63};

static void check_round_trip(const uint8_t *data, size_t size) {
  uint64_t h = 1469598103934665603u; /* FNV-1a of the input */
  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * 1099511628211u;
  uint64_t index = size % 3 == 0 ? CLI_MAX_INDEX : h & CLI_MAX_INDEX;
  int code = codes[h % (sizeof codes / sizeof codes[0])];
  char *text = fuzz_cstr(data, size);
  FUZZ_CHECK(text);
  json_t *id = json_stringn(text, strlen(text)); /* NULL unless UTF-8 */
  json_t *rec = fp_record_error(index, text, id, code, text);
  FUZZ_CHECK(rec);
  char *line = json_dumps(rec, CLI_JSON_FLAGS);
  FUZZ_CHECK(line);
  size_t len = strlen(line);
  FUZZ_CHECK(!memchr(line, '\n', len));

  uint64_t got = 0;
  bool final = false, ok = true;
  FUZZ_CHECK(cli_parse_resume_line(line, len, &got, &final, &ok) == 0);
  FUZZ_CHECK(got == index && !ok && final == (code != FP_ERR_CANCELLED));

  /* a torn line is no record: cut after each '}' and in the middle */
  for (size_t cut = 1; cut < len; cut++) {
    if (line[cut - 1] != '}' && cut != len / 2 && cut != len - 1)
      continue;
    got = 99;
    FUZZ_CHECK(cli_parse_resume_line(line, cut, &got, &final, &ok) == -1 && got == 99);
  }
  free(line);
  json_decref(rec);
  json_decref(id);
  free(text);
}

/* A finished job with the input as its body, written with --body. */
static void check_body_round_trip(const uint8_t *data, size_t size) {
  uint64_t index = size;
  fp_request *req = fp_request_new("http://127.0.0.1/bytes");
  fp_response *resp = fp__response_new();
  FUZZ_CHECK(req && resp && fp_request_set_index(req, index) == FP_OK);
  FUZZ_CHECK(fp__response_append_body(resp, (const char *)data, size) == FP_OK);
  resp->status = 200;
  resp->bytes = size;
  resp->attempts = 1;
  json_t *rec = fp_record_new(req, resp, FP_RECORD_BODY);
  FUZZ_CHECK(rec);
  char *line = json_dumps(rec, CLI_JSON_FLAGS);
  FUZZ_CHECK(line);
  uint64_t got = 0;
  bool final = false, ok = false;
  FUZZ_CHECK(cli_parse_resume_line(line, strlen(line), &got, &final, &ok) == 0);
  FUZZ_CHECK(got == index && ok && final);
  free(line);
  json_decref(rec);
  fp__response_free(resp);
  fp_request_decref(req);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
  check_input(data, size);
  check_round_trip(data, size);
  check_body_round_trip(data, size);
  return 0;
}
