// Command gendecode writes zz_decode_gen.go: a copy of kmsg's request
// decoders (the readFrom method of every *Request type in kmsg's
// generated.go) rewritten so that hostile input cannot amplify.
//
// kmsg decodes for clients, which trust their broker; a broker must not
// trust its clients. The rewrites, each checked by count so that a new kmsg
// release that changes the generated shape fails the generator loudly:
//
//   - arrays: no make([]T, count) up front (count comes from the wire and
//     can be as large as the remaining bytes; an element struct is 20–200
//     bytes). Elements are appended as they decode, with a small bounded
//     initial capacity, and the loop stops at the first short read.
//   - tagged fields: unknown tags are skipped, not stored, and the loop
//     stops at the first short read (kmsg's loop runs the full announced
//     count, up to 2^32-1 iterations, on a 9-byte body: ~60 s of CPU).
//   - the decoder reports how many bytes were left, so that trailing
//     garbage after a valid body is detected exactly.
//   - strings are always copied (the "unsafe" aliasing variants are off).
//
// Usage (from internal/kafka): go generate ./...
package main
