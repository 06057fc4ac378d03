/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-complex-matrix.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace ns3
{

namespace
{

/// Shape of a matrix for error messages.
std::string
Shape(const NrComplexMatrix& m)
{
    return std::to_string(m.Rows()) + "x" + std::to_string(m.Cols());
}

/**
 * LU factorisation with partial pivoting in place (Doolittle, row swaps recorded).
 * \param a the square matrix, overwritten by L (unit diagonal, below) and U
 * \param b right-hand sides to which the same row operations are applied (may be empty)
 * \return the sign of the row permutation, or 0 if a pivot is zero (singular)
 */
int
Eliminate(NrComplexMatrix& a, NrComplexMatrix& b)
{
    const size_t n = a.Rows();
    int sign = 1;
    for (size_t k = 0; k < n; ++k)
    {
        size_t p = k;
        for (size_t r = k + 1; r < n; ++r)
        {
            if (std::abs(a(r, k)) > std::abs(a(p, k)))
            {
                p = r;
            }
        }
        if (a(p, k) == NrComplexMatrix::Complex(0.0))
        {
            return 0;
        }
        if (p != k)
        {
            sign = -sign;
            for (size_t c = 0; c < n; ++c)
            {
                std::swap(a(k, c), a(p, c));
            }
            for (size_t c = 0; c < b.Cols(); ++c)
            {
                std::swap(b(k, c), b(p, c));
            }
        }
        for (size_t r = k + 1; r < n; ++r)
        {
            const auto f = a(r, k) / a(k, k);
            a(r, k) = f;
            for (size_t c = k + 1; c < n; ++c)
            {
                a(r, c) -= f * a(k, c);
            }
            for (size_t c = 0; c < b.Cols(); ++c)
            {
                b(r, c) -= f * b(k, c);
            }
        }
    }
    return sign;
}

} // namespace

NrComplexMatrix::NrComplexMatrix(size_t rows, size_t cols, Complex value)
    : m_rows(rows),
      m_cols(cols),
      m_data(rows * cols, value)
{
}

NrComplexMatrix
NrComplexMatrix::Identity(size_t n)
{
    NrComplexMatrix m(n, n);
    for (size_t i = 0; i < n; ++i)
    {
        m(i, i) = 1.0;
    }
    return m;
}

NrComplexMatrix
NrComplexMatrix::FromRowMajor(size_t rows, size_t cols, std::vector<Complex> data)
{
    if (data.size() != rows * cols)
    {
        throw std::invalid_argument("a " + std::to_string(rows) + "x" + std::to_string(cols) +
                                    " matrix needs " + std::to_string(rows * cols) +
                                    " values, got " + std::to_string(data.size()));
    }
    NrComplexMatrix m;
    m.m_rows = rows;
    m.m_cols = cols;
    m.m_data = std::move(data);
    return m;
}

NrComplexMatrix
NrComplexMatrix::Hermitian() const
{
    NrComplexMatrix h(m_cols, m_rows);
    for (size_t r = 0; r < m_rows; ++r)
    {
        for (size_t c = 0; c < m_cols; ++c)
        {
            h(c, r) = std::conj((*this)(r, c));
        }
    }
    return h;
}

NrComplexMatrix
NrComplexMatrix::operator*(const NrComplexMatrix& other) const
{
    if (m_cols != other.m_rows)
    {
        throw std::invalid_argument("matrix product of " + Shape(*this) + " and " +
                                    Shape(other));
    }
    NrComplexMatrix p(m_rows, other.m_cols);
    for (size_t r = 0; r < m_rows; ++r)
    {
        for (size_t k = 0; k < m_cols; ++k)
        {
            const Complex a = (*this)(r, k);
            for (size_t c = 0; c < other.m_cols; ++c)
            {
                p(r, c) += a * other(k, c);
            }
        }
    }
    return p;
}

NrComplexMatrix
NrComplexMatrix::operator+(const NrComplexMatrix& other) const
{
    if (m_rows != other.m_rows || m_cols != other.m_cols)
    {
        throw std::invalid_argument("matrix sum of " + Shape(*this) + " and " + Shape(other));
    }
    NrComplexMatrix s(*this);
    for (size_t i = 0; i < m_data.size(); ++i)
    {
        s.m_data[i] += other.m_data[i];
    }
    return s;
}

NrComplexMatrix
NrComplexMatrix::Scaled(Complex s) const
{
    NrComplexMatrix m(*this);
    for (auto& x : m.m_data)
    {
        x *= s;
    }
    return m;
}

NrComplexMatrix
NrComplexMatrix::Column(size_t c) const
{
    NrComplexMatrix v(m_rows, 1);
    for (size_t r = 0; r < m_rows; ++r)
    {
        v(r, 0) = (*this)(r, c);
    }
    return v;
}

NrComplexMatrix
NrComplexMatrix::Row(size_t r) const
{
    NrComplexMatrix v(1, m_cols);
    for (size_t c = 0; c < m_cols; ++c)
    {
        v(0, c) = (*this)(r, c);
    }
    return v;
}

double
NrComplexMatrix::ColumnNorm2(size_t c) const
{
    double s = 0;
    for (size_t r = 0; r < m_rows; ++r)
    {
        s += std::norm((*this)(r, c));
    }
    return s;
}

double
NrComplexMatrix::RowNorm2(size_t r) const
{
    double s = 0;
    for (size_t c = 0; c < m_cols; ++c)
    {
        s += std::norm((*this)(r, c));
    }
    return s;
}

NrComplexMatrix
NrComplexMatrix::Solve(const NrComplexMatrix& b) const
{
    if (m_rows != m_cols || b.m_rows != m_rows)
    {
        throw std::invalid_argument("solving a " + Shape(*this) + " system for " + Shape(b));
    }
    NrComplexMatrix a(*this);
    NrComplexMatrix x(b);
    if (Eliminate(a, x) == 0)
    {
        throw std::runtime_error("singular " + Shape(*this) + " matrix");
    }
    const size_t n = m_rows;
    for (size_t c = 0; c < x.m_cols; ++c)
    {
        for (size_t i = n; i-- > 0;)
        {
            Complex s = x(i, c);
            for (size_t k = i + 1; k < n; ++k)
            {
                s -= a(i, k) * x(k, c);
            }
            x(i, c) = s / a(i, i);
        }
    }
    return x;
}

NrComplexMatrix
NrComplexMatrix::Inverse() const
{
    return Solve(Identity(m_rows));
}

NrComplexMatrix::Complex
NrComplexMatrix::Determinant() const
{
    if (m_rows != m_cols)
    {
        throw std::invalid_argument("determinant of a " + Shape(*this) + " matrix");
    }
    NrComplexMatrix a(*this);
    NrComplexMatrix none(m_rows, 0);
    const int sign = Eliminate(a, none);
    Complex d = static_cast<double>(sign);
    for (size_t i = 0; i < m_rows; ++i)
    {
        d *= a(i, i);
    }
    return d;
}

} // namespace ns3
