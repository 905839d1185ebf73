//! Static material for generated Taobao orders: names, regions, products.

pub const SURNAMES: &[&str] = &[
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "欧阳",
];

pub const GIVEN_NAMES: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "文", "华", "建国", "晓燕", "欣怡", "子涵", "浩然",
    "雨桐", "思远", "梓萱", "一鸣", "佳琪",
];

/// Words buyers build their nicks from (Chinese nicks), next to `tb…` numeric nicks.
pub const NICK_WORDS: &[&str] = &[
    "小", "大", "爱", "猫", "鱼", "糖", "果", "星", "月", "风", "云", "雪", "茶", "梦", "兔", "熊",
];

pub struct Region {
    pub state: &'static str,
    pub city: &'static str,
    pub district: &'static str,
    pub towns: &'static [&'static str],
    pub zip: &'static str,
}

pub const REGIONS: &[Region] = &[
    Region {
        state: "浙江省",
        city: "杭州市",
        district: "西湖区",
        towns: &["三墩镇", "文新街道", "翠苑街道"],
        zip: "310012",
    },
    Region {
        state: "浙江省",
        city: "杭州市",
        district: "余杭区",
        towns: &["五常街道", "仓前街道"],
        zip: "311121",
    },
    Region {
        state: "浙江省",
        city: "宁波市",
        district: "鄞州区",
        towns: &["首南街道", "钟公庙街道"],
        zip: "315100",
    },
    Region {
        state: "上海",
        city: "上海市",
        district: "浦东新区",
        towns: &["张江镇", "花木街道", "川沙新镇"],
        zip: "200120",
    },
    Region {
        state: "上海",
        city: "上海市",
        district: "闵行区",
        towns: &["莘庄镇", "七宝镇"],
        zip: "201100",
    },
    Region {
        state: "北京",
        city: "北京市",
        district: "朝阳区",
        towns: &["望京街道", "三里屯街道", "酒仙桥街道"],
        zip: "100020",
    },
    Region {
        state: "北京",
        city: "北京市",
        district: "海淀区",
        towns: &["中关村街道", "学院路街道"],
        zip: "100080",
    },
    Region {
        state: "广东省",
        city: "广州市",
        district: "天河区",
        towns: &["石牌街道", "林和街道"],
        zip: "510630",
    },
    Region {
        state: "广东省",
        city: "深圳市",
        district: "南山区",
        towns: &["粤海街道", "西丽街道", "蛇口街道"],
        zip: "518000",
    },
    Region {
        state: "广东省",
        city: "东莞市",
        district: "长安镇",
        towns: &["长安镇"],
        zip: "523850",
    },
    Region {
        state: "江苏省",
        city: "南京市",
        district: "鼓楼区",
        towns: &["湖南路街道", "宁海路街道"],
        zip: "210008",
    },
    Region {
        state: "江苏省",
        city: "苏州市",
        district: "工业园区",
        towns: &["娄葑街道", "斜塘街道"],
        zip: "215000",
    },
    Region {
        state: "四川省",
        city: "成都市",
        district: "武侯区",
        towns: &["玉林街道", "红牌楼街道"],
        zip: "610041",
    },
    Region {
        state: "湖北省",
        city: "武汉市",
        district: "洪山区",
        towns: &["珞南街道", "关山街道"],
        zip: "430070",
    },
    Region {
        state: "河南省",
        city: "郑州市",
        district: "金水区",
        towns: &["花园路街道", "经八路街道"],
        zip: "450000",
    },
    Region {
        state: "河南省",
        city: "济源市",
        district: "济源市",
        towns: &["沁园街道"],
        zip: "459000",
    },
    Region {
        state: "山东省",
        city: "青岛市",
        district: "市南区",
        towns: &["香港中路街道", "八大关街道"],
        zip: "266071",
    },
    Region {
        state: "福建省",
        city: "厦门市",
        district: "思明区",
        towns: &["鼓浪屿街道", "莲前街道"],
        zip: "361000",
    },
    Region {
        state: "陕西省",
        city: "西安市",
        district: "雁塔区",
        towns: &["小寨路街道", "电子城街道"],
        zip: "710061",
    },
    Region {
        state: "重庆",
        city: "重庆市",
        district: "渝北区",
        towns: &["龙溪街道", "回兴街道"],
        zip: "401120",
    },
];

pub struct Product {
    pub title: &'static str,
    /// Unit price in fen.
    pub price_fen: u64,
    pub cid: u64,
    /// `sku_properties_name` values this product is sold in.
    pub skus: &'static [&'static str],
}

pub const PRODUCTS: &[Product] = &[
    Product {
        title: "夏季新款雪纺连衣裙女 A字显瘦中长款",
        price_fen: 21900,
        cid: 50010850,
        skus: &[
            "颜色分类:杏色;尺码:S",
            "颜色分类:杏色;尺码:M",
            "颜色分类:黑色;尺码:L",
        ],
    },
    Product {
        title: "纯棉短袖T恤男 宽松圆领百搭打底衫",
        price_fen: 5900,
        cid: 50000436,
        skus: &[
            "颜色分类:白色;尺码:L",
            "颜色分类:藏青;尺码:XL",
            "颜色分类:灰色;尺码:XXL",
        ],
    },
    Product {
        title: "加厚珊瑚绒四件套 冬季保暖床上用品",
        price_fen: 18800,
        cid: 50008779,
        skus: &[
            "颜色分类:浅灰;适用床尺寸:1.5m",
            "颜色分类:豆沙粉;适用床尺寸:1.8m",
        ],
    },
    Product {
        title: "无线蓝牙耳机 半入耳式降噪长续航",
        price_fen: 12900,
        cid: 50005050,
        skus: &["颜色分类:白色", "颜色分类:黑色"],
    },
    Product {
        title: "智能手环 心率血氧监测运动计步",
        price_fen: 19900,
        cid: 50012341,
        skus: &["颜色分类:曜石黑;套餐类型:官方标配"],
    },
    Product {
        title: "补水保湿面膜 玻尿酸精华 30片装",
        price_fen: 9900,
        cid: 50011996,
        skus: &["规格:30片", "规格:60片"],
    },
    Product {
        title: "氨基酸洗面奶 温和清洁控油 150ml",
        price_fen: 6900,
        cid: 50011977,
        skus: &["净含量:150ml"],
    },
    Product {
        title: "婴儿纸尿裤 超薄透气 L码 60片",
        price_fen: 13900,
        cid: 50012546,
        skus: &["尺码:M", "尺码:L", "尺码:XL"],
    },
    Product {
        title: "儿童保温杯 吸管杯 316不锈钢 500ml",
        price_fen: 7900,
        cid: 50013877,
        skus: &["颜色分类:恐龙绿", "颜色分类:独角兽粉"],
    },
    Product {
        title: "明前特级龙井茶 2026新茶 250g 礼盒装",
        price_fen: 36800,
        cid: 50008825,
        skus: &["净含量:250g;包装:礼盒装", "净含量:125g;包装:罐装"],
    },
    Product {
        title: "云南古树普洱茶饼 熟茶 357g",
        price_fen: 15800,
        cid: 50008826,
        skus: &["净含量:357g"],
    },
    Product {
        title: "每日坚果混合果仁 30袋 礼盒",
        price_fen: 8990,
        cid: 50010566,
        skus: &["口味:原味;规格:30袋", "口味:混合;规格:15袋"],
    },
    Product {
        title: "手工牛轧糖 奶香蔓越莓 500g",
        price_fen: 3990,
        cid: 50010557,
        skus: &["口味:蔓越莓", "口味:抹茶"],
    },
    Product {
        title: "真皮女士单肩包 通勤大容量托特包",
        price_fen: 45900,
        cid: 50012010,
        skus: &["颜色分类:焦糖色", "颜色分类:黑色"],
    },
    Product {
        title: "男士休闲运动鞋 透气轻便跑步鞋",
        price_fen: 26900,
        cid: 50012043,
        skus: &[
            "颜色分类:白灰;尺码:41",
            "颜色分类:黑色;尺码:42",
            "颜色分类:白灰;尺码:43",
        ],
    },
    Product {
        title: "北欧实木餐桌椅组合 小户型 一桌四椅",
        price_fen: 129900,
        cid: 50020611,
        skus: &["颜色分类:原木色;规格:1.2米一桌四椅"],
    },
    Product {
        title: "家用多功能电饭煲 4L 智能预约",
        price_fen: 29900,
        cid: 50012097,
        skus: &["颜色分类:白色;容量:4L"],
    },
    Product {
        title: "手机壳 全包防摔 磨砂硅胶保护套",
        price_fen: 1990,
        cid: 50008158,
        skus: &["颜色分类:深夜绿", "颜色分类:雾霾蓝", "颜色分类:奶白"],
    },
    Product {
        title: "定制刻字钢笔 商务礼品 送老师",
        price_fen: 16800,
        cid: 50012676,
        skus: &["颜色分类:黑金;笔尖:F尖"],
    },
    Product {
        title: "鲜花速递 红玫瑰花束 同城配送",
        price_fen: 19900,
        cid: 50024451,
        skus: &["规格:11枝", "规格:19枝", "规格:33枝"],
    },
];

/// Buyer messages (留言); most orders have none.
pub const BUYER_MESSAGES: &[&str] = &[
    "请尽快发货，谢谢",
    "麻烦包装好一点，送人的",
    "不要放快递柜，打电话联系",
    "发顺丰可以吗？可以补邮费",
    "刻字内容：毕业快乐",
    "周末不在家，工作日送达",
];
