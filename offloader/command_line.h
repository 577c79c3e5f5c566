/* Turning a container's command and args into a Batch task: Kubernetes
 * $(VAR) expansion exactly as the kubelet does it, and quoting for a command
 * line the Batch node agent splits into words but no shell ever reads. */
#ifndef COMMAND_LINE_H
#define COMMAND_LINE_H

#include "buffer.h"
#include "env_list.h"

/* Kubernetes expansion (k8s.io/kubernetes third_party/forked/golang/expansion):
 * "$(NAME)" becomes the value of NAME when env defines it and stays as written
 * otherwise; "$$" becomes "$"; any other "$" is kept with the character after
 * it (a byte that starts no valid UTF-8 character becomes U+FFFD, as Go's
 * rune decoding makes it). */
void kubelet_expand(const char *input, const env_list *env, buffer *out);

/* Appends word so that POSIX word splitting gives it back unchanged: plain
 * words as they are, anything else in single quotes ('\'' for a quote). */
void command_line_append_word(buffer *out, const char *word);

#endif
