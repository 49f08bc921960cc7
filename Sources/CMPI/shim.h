// CMPI: the system MPI (Open MPI or MPICH), only with the package trait MPI, behind calls Swift can import on both.
#include <mpi.h>
#include <stddef.h>

// MPI's handles differ between libraries (pointers in Open MPI, ints in MPICH) and Open MPI's predefined ones are
// macros Swift does not import, so FedMPI makes every call through these: plain ints and opaque request storage.
// All calls use MPI_COMM_WORLD and MPI_BYTE.

static inline int fednoise_mpi_success(void) { return MPI_SUCCESS; }
static inline int fednoise_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int fednoise_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline size_t fednoise_mpi_request_size(void) { return sizeof(MPI_Request); }

static inline int fednoise_mpi_init(int *provided) {
    return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
}

// Errors are returned, not fatal; then this rank and the size of MPI_COMM_WORLD.
static inline int fednoise_mpi_rank_size(int *rank, int *size) {
    int rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(MPI_COMM_WORLD, rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(MPI_COMM_WORLD, size);
    return rc;
}

static inline int fednoise_mpi_isend(const void *buffer, int count, int destination, int tag, void *request) {
    return MPI_Isend(buffer, count, MPI_BYTE, destination, tag, MPI_COMM_WORLD, (MPI_Request *)request);
}

static inline int fednoise_mpi_test(void *request, int *done) {
    return MPI_Test((MPI_Request *)request, done, MPI_STATUS_IGNORE);
}

// Whether a message is waiting; if so its source, tag and length in bytes.
static inline int fednoise_mpi_iprobe(int *flag, int *source, int *tag, int *count) {
    MPI_Status status;
    int rc = MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, flag, &status);
    if (rc == MPI_SUCCESS && *flag) {
        *source = status.MPI_SOURCE;
        *tag = status.MPI_TAG;
        rc = MPI_Get_count(&status, MPI_BYTE, count);
    }
    return rc;
}

static inline int fednoise_mpi_recv(void *buffer, int count, int source, int tag) {
    return MPI_Recv(buffer, count, MPI_BYTE, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

static inline int fednoise_mpi_ibarrier(void *request) {
    return MPI_Ibarrier(MPI_COMM_WORLD, (MPI_Request *)request);
}

static inline int fednoise_mpi_finalize(void) { return MPI_Finalize(); }

static inline int fednoise_mpi_error_string(int code, char *text, int *length) {
    return MPI_Error_string(code, text, length);
}

// Ends every rank of MPI_COMM_WORLD with `code` (a rank that cannot go on must not leave the others waiting).
static inline int fednoise_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
