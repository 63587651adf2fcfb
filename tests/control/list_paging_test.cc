// Paging of the whole-registry answers (ListProcesses, ListPorts,
// GetStats) against a real shmportd whose pages are small
// (list_page_bytes = 4 KiB, ~50 ports), holding 12 processes and 360
// ports: a client that does not page gets a valid first page and a token;
// following the tokens yields every entry once, in id order, each page
// within the byte bound; page_size bounds the count; entries that come
// and go while a client pages neither repeat nor reappear.
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kPageBytes = 4096;
constexpr int kProcesses = 12;
constexpr int kPortsPerProcess = 30;  // opened by each: 60 ends each

class ListPagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto daemon = DaemonProcess::Start(
        {.config_text = absl::StrCat("list_page_bytes: ", kPageBytes)});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    stub_ = daemon_->NewStub();
    for (int i = 0; i < kProcesses; ++i) {
      auto r = RegisterAndAttach(*stub_, absl::StrCat("paged-", i));
      ASSERT_TRUE(r.ok()) << r.status();
      processes_.push_back(*std::move(r));
    }
    // Process i opens 10 ports to each of the next three.
    for (int n = 0; n < kPortsPerProcess; ++n) {
      for (int i = 0; i < kProcesses; ++i) {
        Open(i, (i + 1 + n % 3) % kProcesses);
      }
    }
  }

  uint64_t Open(int from, int to) {
    v1::OpenPortResponse response;
    const grpc::Status s = OpenPortByName(
        *stub_, processes_[from], absl::StrCat("paged-", to), &response);
    EXPECT_TRUE(s.ok()) << Describe(s);
    ports_.insert(response.port_id());
    return response.port_id();
  }

  // Follows ListPorts' tokens from `request` to the last page; each page's
  // port ids into `ids`, and its size into `page_sizes`.
  void AllPortPages(v1::ListPortsRequest request, std::vector<uint64_t>* ids,
                    std::vector<int>* page_sizes) {
    for (int pages = 0; pages < 1000; ++pages) {
      v1::ListPortsResponse page;
      const grpc::Status s = stub_->ListPorts(Context().get(), request, &page);
      ASSERT_TRUE(s.ok()) << Describe(s);
      EXPECT_LE(page.ByteSizeLong(), kPageBytes);
      for (const v1::PortInfo& p : page.ports()) ids->push_back(p.id());
      page_sizes->push_back(page.ports_size());
      if (page.next_page_token().empty()) return;
      request.set_page_token(page.next_page_token());
    }
    FAIL() << "ListPorts never ended";
  }

  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
  std::vector<RawRegistration> processes_;
  std::set<uint64_t> ports_;
};

TEST_F(ListPagingTest, AClientThatDoesNotPageGetsAValidFirstPage) {
  v1::ListPortsResponse ports;
  ASSERT_TRUE(stub_->ListPorts(Context().get(), {}, &ports).ok());
  EXPECT_GT(ports.ports_size(), 0);
  EXPECT_LT(ports.ports_size(), static_cast<int>(ports_.size()));
  EXPECT_LE(ports.ByteSizeLong(), kPageBytes);
  EXPECT_FALSE(ports.next_page_token().empty());
  // The first page is the lowest ids.
  EXPECT_EQ(ports.ports(0).id(), *ports_.begin());
  v1::GetStatsResponse stats;
  ASSERT_TRUE(stub_->GetStats(Context().get(), {}, &stats).ok());
  EXPECT_EQ(stats.daemon().ports(), ports_.size());
  EXPECT_EQ(stats.daemon().processes(), static_cast<uint32_t>(kProcesses));
  EXPECT_LE(stats.ByteSizeLong(), kPageBytes);
  EXPECT_FALSE(stats.next_page_token().empty());
}

TEST_F(ListPagingTest, FollowingTheTokensListsEveryPortOnceInIdOrder) {
  std::vector<uint64_t> ids;
  std::vector<int> page_sizes;
  AllPortPages({}, &ids, &page_sizes);
  EXPECT_GE(page_sizes.size(), 5u);
  EXPECT_EQ(std::set<uint64_t>(ids.begin(), ids.end()), ports_);
  EXPECT_EQ(ids.size(), ports_.size());
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
}

TEST_F(ListPagingTest, PageSizeBoundsTheCountAndTheLastPageHasNoToken) {
  std::vector<uint64_t> ids;
  std::vector<int> page_sizes;
  v1::ListPortsRequest request;
  request.set_page_size(ports_.size() / 4);  // 90: more than 4 KiB holds
  AllPortPages(request, &ids, &page_sizes);
  EXPECT_GT(page_sizes.size(), 4u);  // the byte bound cut them shorter
  request.set_page_size(7);
  ids.clear();
  page_sizes.clear();
  AllPortPages(request, &ids, &page_sizes);
  ASSERT_EQ(page_sizes.size(), (ports_.size() + 6) / 7);
  for (size_t i = 0; i + 1 < page_sizes.size(); ++i) {
    EXPECT_EQ(page_sizes[i], 7) << "page " << i;
  }
  EXPECT_EQ(page_sizes.back(), static_cast<int>(ports_.size() % 7));
  // Exactly the count that is left: one page, no token.
  v1::ListProcessesRequest all;
  all.set_page_size(kProcesses);
  v1::ListProcessesResponse processes;
  ASSERT_TRUE(stub_->ListProcesses(Context().get(), all, &processes).ok());
  EXPECT_EQ(processes.processes_size(), kProcesses);
  EXPECT_EQ(processes.next_page_token(), "");
}

TEST_F(ListPagingTest, ProcessesPageByCount) {
  v1::ListProcessesRequest request;
  request.set_page_size(5);
  std::vector<int> sizes;
  std::vector<uint64_t> ids;
  for (;;) {
    v1::ListProcessesResponse page;
    ASSERT_TRUE(stub_->ListProcesses(Context().get(), request, &page).ok());
    sizes.push_back(page.processes_size());
    for (const auto& p : page.processes()) ids.push_back(p.id());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  EXPECT_THAT(sizes, ::testing::ElementsAre(5, 5, 2));
  std::vector<uint64_t> expected;
  for (const RawRegistration& r : processes_) expected.push_back(r.id);
  EXPECT_EQ(ids, expected);
}

TEST_F(ListPagingTest, PortsOfOneProcessPageToo) {
  v1::ListPortsRequest request;
  request.set_process_id(processes_[0].id);
  request.set_page_size(25);
  std::vector<uint64_t> ids;
  std::vector<int> page_sizes;
  AllPortPages(request, &ids, &page_sizes);
  EXPECT_THAT(page_sizes, ::testing::ElementsAre(25, 25, 10));  // 60 ends
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<uint64_t>(ids.begin(), ids.end()).size(), 60u);
}

TEST_F(ListPagingTest, GetStatsPagesPortsAndCarriesTheCountersOnEachPage) {
  v1::GetStatsRequest request;
  std::set<uint64_t> ids;
  int pages = 0;
  for (;; ++pages) {
    v1::GetStatsResponse page;
    ASSERT_TRUE(stub_->GetStats(Context().get(), request, &page).ok());
    EXPECT_LE(page.ByteSizeLong(), kPageBytes);
    EXPECT_EQ(page.daemon().ports(), ports_.size()) << "page " << pages;
    EXPECT_GT(page.daemon().rss_bytes(), 0u) << "page " << pages;
    for (const auto& p : page.ports()) EXPECT_TRUE(ids.insert(p.id()).second);
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  EXPECT_GE(pages, 4);
  EXPECT_EQ(ids, ports_);
}

TEST_F(ListPagingTest, PortsOpenedAndClosedWhilePagingNeitherRepeatNorReturn) {
  v1::ListPortsRequest request;
  request.set_page_size(30);
  v1::ListPortsResponse first;
  ASSERT_TRUE(stub_->ListPorts(Context().get(), request, &first).ok());
  ASSERT_EQ(first.ports_size(), 30);
  // Meanwhile: a port listed already closes, one not listed yet closes, and
  // a new one opens.
  const uint64_t listed = first.ports(3).id();
  const uint64_t unlisted = *ports_.rbegin();
  for (uint64_t id : {listed, unlisted}) {
    v1::ClosePortRequest close;
    close.set_port_id(id);
    auto token = daemon_->AdminToken();
    ASSERT_TRUE(token.ok()) << token.status();
    v1::ClosePortResponse closed;
    const grpc::Status s =
        stub_->ClosePort(Context(*token).get(), close, &closed);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }
  const uint64_t added = Open(5, 6);
  std::vector<uint64_t> rest;
  std::vector<int> page_sizes;
  request.set_page_token(first.next_page_token());
  AllPortPages(request, &rest, &page_sizes);
  std::set<uint64_t> seen;
  for (const auto& p : first.ports()) seen.insert(p.id());
  for (uint64_t id : rest) EXPECT_TRUE(seen.insert(id).second) << id;
  EXPECT_TRUE(seen.contains(added));
  EXPECT_FALSE(std::set<uint64_t>(rest.begin(), rest.end()).contains(unlisted));
  EXPECT_EQ(seen.size(), ports_.size() - 1);  // + added - unlisted
}

TEST_F(ListPagingTest, ATokenTheDaemonDidNotGiveIsInvalidArgument) {
  v1::ListPortsRequest request;
  request.set_page_token("page-two");
  v1::ListPortsResponse ports;
  const grpc::Status s = stub_->ListPorts(Context().get(), request, &ports);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(s);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token 'page-two'"));
  v1::GetStatsRequest stats_request;
  stats_request.set_page_token("-1");
  v1::GetStatsResponse stats;
  EXPECT_EQ(
      stub_->GetStats(Context().get(), stats_request, &stats).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace shmport::testing
