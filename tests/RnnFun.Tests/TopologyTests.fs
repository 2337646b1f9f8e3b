module RnnFun.Tests.TopologyTests
