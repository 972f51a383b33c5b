/* paths.c: which file a path names, so that two options naming the same
 * file are caught however they are spelt: an existing file by its device
 * and inode (symbolic links followed, so "./x", "d/../x" and a link to x
 * are x), a file still to be created by the directory it would be created
 * in and its name there (dangling links followed to where open would
 * create the file). Only stat, lstat, readlink and realpath: nothing is
 * opened, created or changed. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Links followed for a file that does not exist yet, as the kernel's own
 * limit (ELOOP past it). */
#define MAX_LINKS 40

/* Split path into its directory (into dir) and last name (into id->name),
 * and identify the directory. Trailing slashes are dropped. 0 or errno. */
static int locate_parent(const char *path, cli_file_id *id) {
  char dir[PATH_MAX];
  struct stat st;
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/')
    len--;
  size_t slash = len;
  while (slash > 0 && path[slash - 1] != '/')
    slash--;
  size_t nlen = len - slash;
  if (nlen == 0 || nlen > NAME_MAX || slash >= sizeof dir)
    return ENAMETOOLONG;
  memcpy(id->name, path + slash, nlen);
  id->name[nlen] = '\0';
  if (slash == 0) {
    strcpy(dir, ".");
  } else {
    size_t dlen = slash;
    while (dlen > 1 && path[dlen - 1] == '/')
      dlen--;
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
  }
  if (stat(dir, &st))
    return errno;
  id->pdev = st.st_dev;
  id->pino = st.st_ino;
  id->has_parent = true;
  return 0;
}

/* path names no file: follow dangling links to the name open(O_CREAT)
 * would create. 0 or errno. */
static int locate_new(const char *path, cli_file_id *id) {
  char cur[PATH_MAX], target[PATH_MAX];
  struct stat st;
  if (strlen(path) >= sizeof cur)
    return ENAMETOOLONG;
  strcpy(cur, path);
  for (int hops = 0; lstat(cur, &st) == 0; hops++) {
    if (!S_ISLNK(st.st_mode))
      return EEXIST; /* it was created meanwhile */
    if (hops == MAX_LINKS)
      return ELOOP;
    ssize_t n = readlink(cur, target, sizeof target - 1);
    if (n < 0)
      return errno;
    target[n] = '\0';
    if (target[0] == '/') {
      strcpy(cur, target);
    } else { /* relative to the link's directory */
      char *slash = strrchr(cur, '/');
      size_t keep = slash ? (size_t)(slash - cur) + 1 : 0;
      if (keep + (size_t)n >= sizeof cur)
        return ENAMETOOLONG;
      memcpy(cur + keep, target, (size_t)n + 1);
    }
  }
  if (errno != ENOENT)
    return errno;
  return locate_parent(cur, id);
}

int cli_file_id_of(const char *path, cli_file_id *id) {
  struct stat st;
  memset(id, 0, sizeof *id);
  if (!path || !*path)
    return ENOENT;
  if (stat(path, &st) == 0) {
    id->exists = true;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->mode = st.st_mode;
    /* the parent too, when it can be told (not for a pipe's /dev/stdout) */
    char *real = realpath(path, NULL);
    if (real && strcmp(real, "/") != 0)
      (void)locate_parent(real, id);
    free(real);
    return 0;
  }
  if (errno != ENOENT)
    return errno;
  return locate_new(path, id);
}

int cli_file_id_of_fd(int fd, cli_file_id *id) {
  struct stat st;
  memset(id, 0, sizeof *id);
  if (fstat(fd, &st))
    return errno;
  id->exists = true;
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  id->mode = st.st_mode;
  return 0;
}

bool cli_file_id_same(const cli_file_id *a, const cli_file_id *b) {
  if (a->exists != b->exists)
    return false;
  if (a->exists)
    return a->dev == b->dev && a->ino == b->ino;
  return a->pdev == b->pdev && a->pino == b->pino && strcmp(a->name, b->name) == 0;
}
