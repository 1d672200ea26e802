// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, ...) are macros Swift cannot import; these inline functions
// wrap the few calls swivel makes. Built only with the MPI trait (Debian: libopenmpi-dev).
#include <mpi.h>

static inline int swivel_mpi_init(void) {
    int provided = 0;
    return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
}
static inline int swivel_mpi_finalize(void) { return MPI_Finalize(); }
static inline int swivel_mpi_rank(void) { int r = 0; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
static inline int swivel_mpi_size(void) { int s = 1; MPI_Comm_size(MPI_COMM_WORLD, &s); return s; }
static inline void swivel_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
#include <stdlib.h>

/// Sends `out_count` floats to `destination` while receiving `in_count` floats from `source`, each side cut in
/// pieces of at most 2^30 values posted as non-blocking calls, so each direction only needs its own two ends
/// to agree on its length (sizes above 2^31 values do not fit one MPI count).
static inline int swivel_mpi_exchange_floats(const float *out, long out_count, int destination,
                                             float *in, long in_count, int source, int tag) {
    const long piece = 1L << 30;
    long out_pieces = (out_count + piece - 1) / piece, in_pieces = (in_count + piece - 1) / piece;
    MPI_Request *requests = malloc(sizeof(MPI_Request) * (size_t)(out_pieces + in_pieces + 1));
    if (!requests) return MPI_ERR_NO_MEM;
    int n = 0, code = MPI_SUCCESS;
    for (long i = 0; i < in_pieces && code == MPI_SUCCESS; i++) {
        long count = in_count - i * piece < piece ? in_count - i * piece : piece;
        code = MPI_Irecv(in + i * piece, (int)count, MPI_FLOAT, source, tag, MPI_COMM_WORLD, &requests[n++]);
    }
    for (long i = 0; i < out_pieces && code == MPI_SUCCESS; i++) {
        long count = out_count - i * piece < piece ? out_count - i * piece : piece;
        code = MPI_Isend(out + i * piece, (int)count, MPI_FLOAT, destination, tag, MPI_COMM_WORLD, &requests[n++]);
    }
    if (code == MPI_SUCCESS) code = MPI_Waitall(n, requests, MPI_STATUSES_IGNORE);
    free(requests);
    return code;
}
static inline int swivel_mpi_send_floats(const float *buffer, int count, int destination, int tag) {
    return MPI_Send(buffer, count, MPI_FLOAT, destination, tag, MPI_COMM_WORLD);
}
static inline int swivel_mpi_recv_floats(float *buffer, int count, int source, int tag) {
    return MPI_Recv(buffer, count, MPI_FLOAT, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}
static inline int swivel_mpi_sum_double(double *value) {
    return MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
/// Receives the length (8 bytes) of a byte message sent by swivel_mpi_send_bytes or swivel_mpi_isend_bytes.
static inline int swivel_mpi_recv_length(long long *length, int source, int tag) {
    return MPI_Recv(length, 8, MPI_BYTE, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}
/// Receives a byte message's `count` bytes, in the pieces of at most 2^30 the sender cut.
static inline int swivel_mpi_recv_bytes(unsigned char *bytes, long count, int source, int tag) {
    const long piece = 1L << 30;
    int code = MPI_SUCCESS;
    for (long start = 0; start < count && code == MPI_SUCCESS; start += piece) {
        long n = count - start < piece ? count - start : piece;
        code = MPI_Recv(bytes + start, (int)n, MPI_BYTE, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    return code;
}

/// A byte message being sent without blocking: its length field and the requests of its pieces.
typedef struct swivel_pending_send {
    long long length;
    int count;
    MPI_Request requests[];
} swivel_pending_send;

/// Starts sending a byte message (length, then pieces of at most 2^30 bytes) without blocking; `bytes` must
/// stay valid until swivel_mpi_wait_send returns. NULL (and *code set) on failure.
static inline swivel_pending_send *swivel_mpi_isend_bytes(const unsigned char *bytes, long count, int destination,
                                                          int tag, int *code) {
    const long piece = 1L << 30;
    long pieces = (count + piece - 1) / piece;
    swivel_pending_send *p = malloc(sizeof(swivel_pending_send) + sizeof(MPI_Request) * (size_t)(pieces + 1));
    if (!p) { *code = MPI_ERR_NO_MEM; return NULL; }
    p->length = count;
    p->count = 0;
    *code = MPI_Isend(&p->length, 8, MPI_BYTE, destination, tag, MPI_COMM_WORLD, &p->requests[p->count++]);
    for (long i = 0; i < pieces && *code == MPI_SUCCESS; i++) {
        long n = count - i * piece < piece ? count - i * piece : piece;
        *code = MPI_Isend(bytes + i * piece, (int)n, MPI_BYTE, destination, tag, MPI_COMM_WORLD, &p->requests[p->count++]);
    }
    return p;
}
/// Waits until a message started by swivel_mpi_isend_bytes is sent, then frees its bookkeeping.
static inline int swivel_mpi_wait_send(swivel_pending_send *p) {
    int code = MPI_Waitall(p->count, p->requests, MPI_STATUSES_IGNORE);
    free(p);
    return code;
}
/// Sends a byte message (length, then pieces of at most 2^30 bytes) and returns once it is sent: the
/// non-blocking send, waited for. A failure to post a piece returns at once (MPI's default handler aborts
/// before that; the requests already posted are left to the abort that follows).
static inline int swivel_mpi_send_bytes(const unsigned char *bytes, long count, int destination, int tag) {
    int code = MPI_SUCCESS;
    swivel_pending_send *p = swivel_mpi_isend_bytes(bytes, count, destination, tag, &code);
    // On a failure `p` is not freed: the requests already posted may still read its length field.
    if (!p || code != MPI_SUCCESS) return code;
    return swivel_mpi_wait_send(p);
}
