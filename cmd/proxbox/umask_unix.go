//go:build unix

package main

import "syscall"

// restrictUmask makes every file and directory proxbox creates private to
// its user (0600 files, 0700 directories), SQLite's -wal and -shm included.
func restrictUmask() { syscall.Umask(0o077) }
