import QtQuick

// One service: a large touch target with its name, who waits and how long, or why it is
// closed. High contrast: dark text on amber when open, grey when not.
Rectangle {
    id: button
    required property string serviceId
    required property string name
    required property string detail
    required property string note
    required property bool accepting
    property real unit: 16
    signal chosen(string serviceId)
    objectName: "service-" + serviceId

    radius: unit * 0.8
    color: !accepting ? "#3a4656" : area.pressed ? "#ffd24d" : "#f5b301"
    border.color: "#ffffff"
    border.width: area.pressed ? unit * 0.3 : 0

    Column {
        anchors.centerIn: parent
        width: parent.width - 2 * button.unit
        spacing: button.unit * 0.4
        Text {
            width: parent.width
            text: button.name
            color: button.accepting ? "#10213a" : "#c9d1db"
            font.pixelSize: button.unit * 2.2
            font.bold: true
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            maximumLineCount: 2
            elide: Text.ElideRight
        }
        Text {
            width: parent.width
            text: button.accepting ? button.detail : button.note
            color: button.accepting ? "#10213a" : "#ffffff"
            font.pixelSize: button.unit * 1.3
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.WordWrap
            maximumLineCount: 2
        }
    }
    MouseArea {
        id: area
        anchors.fill: parent
        enabled: button.accepting
        onClicked: button.chosen(button.serviceId)
    }
}
