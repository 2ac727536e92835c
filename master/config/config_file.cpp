// The TOML config file, read with toml++ (Debian's libtomlplusplus-dev): a well-kept
// parser beats a hand-written one for a format with this many corner cases.
#include "master/config/config_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace ringfork::master {

namespace {

/// One scalar as flag text, or nullopt for kinds a flag cannot take.
std::optional<std::string> scalar_text(const toml::node& v)
{
    if (auto s = v.value<std::string>(); s && v.is_string())
        return *s;
    if (v.is_integer())
        return std::to_string(*v.value<std::int64_t>());
    if (v.is_floating_point())
        return fmt::format("{}", *v.value<double>());
    return std::nullopt;
}

} // namespace

std::optional<std::vector<std::string>> config_arguments_from(std::string_view text, const std::string& name,
                                                              std::string& error)
{
    // Debian's toml++ is built with exceptions: a parse error arrives as one, at start-up only.
    toml::table parsed;
    try {
        parsed = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
        error = fmt::format("config {}:{}:{}: {}", name, e.source().begin.line, e.source().begin.column,
                            e.description());
        return std::nullopt;
    }
    std::vector<std::string> args;
    for (auto&& [key, value] : parsed) {
        const std::string flag = "--" + std::string(key.str());
        const auto where = [&](const toml::node& n) {
            return fmt::format("config {}:{}", name, n.source().begin.line);
        };
        if (value.is_boolean()) {
            if (*value.value<bool>())
                args.push_back(flag);
        } else if (const toml::array* list = value.as_array()) {
            for (const toml::node& item : *list) {
                auto t = scalar_text(item);
                if (!t) {
                    error = fmt::format("{}: {} takes strings or numbers", where(item), key.str());
                    return std::nullopt;
                }
                args.push_back(flag);
                args.push_back(*t);
            }
        } else if (auto t = scalar_text(value)) {
            args.push_back(flag);
            args.push_back(*t);
        } else {
            error = fmt::format("{}: {} must be a string, number, boolean or array", where(value), key.str());
            return std::nullopt;
        }
    }
    return args;
}

std::optional<std::vector<std::string>> config_arguments(const std::string& path, std::string& error)
{
    std::ifstream f(path);
    if (!f) {
        error = fmt::format("config {}: cannot be read: {}", path, std::strerror(errno));
        return std::nullopt;
    }
    std::stringstream text;
    text << f.rdbuf();
    return config_arguments_from(text.str(), path, error);
}

} // namespace ringfork::master
