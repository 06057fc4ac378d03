// SPDX-License-Identifier: GPL-2.0-only
// register_ns3_tests: run the ns-3 TestSuites of ns3_scenarios/test/ (linked into this module)
// through ns-3's own TestRunner, so that pytest can report them.
#include "bindings.h"

#include "ns3/test.h"

#include <pybind11/stl.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace py = pybind11;

namespace edgelam
{

namespace
{
/// ns3::TestRunner::Run with these arguments; what it prints to std::cout, and its status.
std::pair<int, std::string>
RunTestRunner(std::vector<std::string> args)
{
    args.insert(args.begin(), "edgelam-test-runner");
    std::vector<char*> argv;
    for (auto& a : args)
    {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    std::ostringstream out;
    std::streambuf* old = std::cout.rdbuf(out.rdbuf());
    int rc = 0;
    try
    {
        rc = ns3::TestRunner::Run(static_cast<int>(args.size()), argv.data());
    }
    catch (...)
    {
        std::cout.rdbuf(old);
        throw;
    }
    std::cout.rdbuf(old);
    return {rc, out.str()};
}

std::vector<std::string>
SuiteNames()
{
    std::istringstream in(RunTestRunner({"--print-test-name-list"}).second);
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);)
    {
        if (!line.empty())
        {
            names.push_back(line);
        }
    }
    return names;
}

py::tuple
RunSuite(const std::string& name)
{
    bool known = false;
    for (const auto& n : SuiteNames())
    {
        known = known || n == name;
    }
    if (!known)
    {
        throw py::value_error("no ns-3 test suite named '" + name + "'");
    }
    const auto [rc, report] = RunTestRunner({"--suite=" + name, "--verbose"});
    const bool passed = rc == 0 && report.rfind("PASS " + name, 0) == 0;
    return py::make_tuple(passed, report);
}
} // namespace

void
register_ns3_tests(py::module_& m)
{
    m.def("ns3_test_suites", &SuiteNames,
          "Names of the ns-3 TestSuites linked into this module (ns3_scenarios/test/).");
    m.def("run_ns3_test_suite", &RunSuite, py::arg("name"),
          "Run one ns-3 TestSuite with ns-3's TestRunner (QUICK test cases, verbose): "
          "(passed, report), the report as the TestRunner prints it, with the condition, "
          "actual and limit values, message, file and line of each failure. Run it in a "
          "process of its own: ns-3's Simulator and random streams are process-wide.");
}

} // namespace edgelam
