//go:build !unix

package main

// restrictUmask has nothing to set here; store.Open restricts its files.
func restrictUmask() {}
