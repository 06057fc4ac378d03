/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_COMPLEX_MATRIX_H
#define NR_COMPLEX_MATRIX_H

#include <complex>
#include <cstddef>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * A small dense complex matrix (row-major, double precision) for the per-RBG linear algebra of
 * precoding, MMSE reception and codebook search: products, conjugate transpose, solving and
 * inverting by Gaussian elimination with partial pivoting, determinants.
 *
 * Why not a library: Eigen is not installed on the build machines (no /usr/include/eigen3,
 * and the project builds against Debian's packages only), and ns-3 3.37 has no complex matrix
 * type (MatrixArray arrived in ns-3.38). The matrices here are at most a few tens of rows
 * (layers x antennas), where this plain code is adequate.
 */
class NrComplexMatrix
{
  public:
    using Complex = std::complex<double>; //!< element type

    NrComplexMatrix() = default;

    /**
     * \param rows number of rows
     * \param cols number of columns
     * \param value the initial value of every element
     */
    NrComplexMatrix(size_t rows, size_t cols, Complex value = 0.0);

    /**
     * \param n size
     * \return the n x n identity
     */
    static NrComplexMatrix Identity(size_t n);

    /**
     * \param rows number of rows
     * \param cols number of columns
     * \param data row-major values, rows x cols of them; throws std::invalid_argument otherwise
     * \return the matrix
     */
    static NrComplexMatrix FromRowMajor(size_t rows, size_t cols, std::vector<Complex> data);

    /** \return the number of rows */
    size_t Rows() const
    {
        return m_rows;
    }

    /** \return the number of columns */
    size_t Cols() const
    {
        return m_cols;
    }

    /**
     * \param r row
     * \param c column
     * \return the element (unchecked)
     */
    Complex& operator()(size_t r, size_t c)
    {
        return m_data[r * m_cols + c];
    }

    /**
     * \param r row
     * \param c column
     * \return the element (unchecked)
     */
    const Complex& operator()(size_t r, size_t c) const
    {
        return m_data[r * m_cols + c];
    }

    /** \return the row-major values */
    const std::vector<Complex>& Data() const
    {
        return m_data;
    }

    /** \return the conjugate transpose */
    NrComplexMatrix Hermitian() const;

    /**
     * \param other right factor; throws std::invalid_argument if the shapes do not agree
     * \return this x other
     */
    NrComplexMatrix operator*(const NrComplexMatrix& other) const;

    /**
     * \param other same shape; throws std::invalid_argument otherwise
     * \return this + other
     */
    NrComplexMatrix operator+(const NrComplexMatrix& other) const;

    /**
     * \param s a scalar
     * \return s x this
     */
    NrComplexMatrix Scaled(Complex s) const;

    /**
     * \param c column index
     * \return the column as a Rows() x 1 matrix
     */
    NrComplexMatrix Column(size_t c) const;

    /**
     * \param r row index
     * \return the row as a 1 x Cols() matrix
     */
    NrComplexMatrix Row(size_t r) const;

    /**
     * \param c column index
     * \return its squared Euclidean norm
     */
    double ColumnNorm2(size_t c) const;

    /**
     * \param r row index
     * \return its squared Euclidean norm
     */
    double RowNorm2(size_t r) const;

    /**
     * \param b right-hand sides, Rows() x k
     * \return X with this X = b, by Gaussian elimination with partial pivoting; throws
     *         std::runtime_error if this square matrix is singular to working precision
     */
    NrComplexMatrix Solve(const NrComplexMatrix& b) const;

    /** \return the inverse (Solve of the identity) */
    NrComplexMatrix Inverse() const;

    /** \return the determinant of this square matrix (LU with partial pivoting) */
    Complex Determinant() const;

  private:
    size_t m_rows{0};            //!< number of rows
    size_t m_cols{0};            //!< number of columns
    std::vector<Complex> m_data; //!< row-major values
};

} // namespace ns3

#endif // NR_COMPLEX_MATRIX_H
