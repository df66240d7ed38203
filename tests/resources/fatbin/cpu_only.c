/* A shared object with no GPU code, like vLLM's cumem_allocator or fs_io_C. */
int answer(void) { return 42; }
