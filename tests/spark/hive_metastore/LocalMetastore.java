// A standalone Hive metastore service for tests: Hive 2.3's own metastore handler (the jars pyspark
// ships) behind a Thrift server bound to 127.0.0.1 only, with an embedded Derby database.
//
//   java -cp "$SPARK_HOME/jars/*" LocalMetastore.java PORT DIR
//
// HiveMetaStore.main would do the same, but Hive 2.3.10 binds its Thrift socket to every interface
// and has no setting to change that; tests only ever listen on and talk to 127.0.0.1. Prints
// "LISTENING 127.0.0.1:PORT" once it accepts connections.

import java.net.InetSocketAddress;
import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.metastore.HiveMetaStore;
import org.apache.hadoop.hive.metastore.TUGIBasedProcessor;
import org.apache.hadoop.hive.metastore.api.ThriftHiveMetastore;
import org.apache.hadoop.hive.thrift.TUGIContainingTransport;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TThreadPoolServer;
import org.apache.thrift.transport.TServerSocket;

public class LocalMetastore {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String dir = args[1];
        HiveConf conf = new HiveConf();
        conf.set("javax.jdo.option.ConnectionURL", "jdbc:derby:;databaseName=" + dir + "/metastore_db;create=true");
        conf.set("datanucleus.schema.autoCreateAll", "true");
        conf.set("hive.metastore.schema.verification", "false");
        conf.set("hive.metastore.warehouse.dir", dir + "/warehouse");
        ThriftHiveMetastore.Iface handler = HiveMetaStore.newRetryingHMSHandler("local-metastore", conf, false);
        TServerSocket socket = new TServerSocket(new InetSocketAddress("127.0.0.1", port));
        TThreadPoolServer.Args serverArgs = new TThreadPoolServer.Args(socket)
            .processor(new TUGIBasedProcessor<>(handler))
            .transportFactory(new TUGIContainingTransport.Factory())
            .protocolFactory(new TBinaryProtocol.Factory());
        serverArgs.minWorkerThreads(2).maxWorkerThreads(16);
        TServer server = new TThreadPoolServer(serverArgs);
        System.out.println("LISTENING 127.0.0.1:" + port);
        System.out.flush();
        server.serve();
    }
}
