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
static inline int swivel_mpi_sendrecv_floats(const float *out, int out_count, int destination,
                                             float *in, int in_count, int source, int tag) {
    return MPI_Sendrecv(out, out_count, MPI_FLOAT, destination, tag, in, in_count, MPI_FLOAT, source, tag,
                        MPI_COMM_WORLD, MPI_STATUS_IGNORE);
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
