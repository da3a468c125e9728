/* under-asan.h — UNDER_ASAN is 1 in a build with AddressSanitizer
 * (tools/run-hardening), where T5's tokenizer cannot load beside libtorch
 * (see engine/src/tokenizers/t5_tokenizer.cpp), else 0.  For C and C++. */
#ifndef UNDER_ASAN_H
#define UNDER_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#endif /* UNDER_ASAN_H */
